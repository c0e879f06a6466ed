"""Client-side SigV4 for the admin API (service ``execute-api``): botocore signs, nothing is hand-rolled.

The CLI and the tests sign with this module; the local stack verifies with the same botocore
signer (see :mod:`tokengate.local.iam`), so a request that passes locally passes in AWS too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def sign(
    method: str,
    url: str,
    *,
    credentials: Credentials,
    region: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    presign_expires: int | None = None,
) -> SignedRequest:
    """Sign one request. ``presign_expires`` signs in the query string (a presigned URL) instead of
    the Authorization header. Every header passed here is signed, so send exactly these headers."""
    if presign_expires is not None and body:
        # botocore's query signer would move a body into the query string: presign body-less calls only.
        raise ValueError("a presigned request carries no body")
    request = AWSRequest(method=method.upper(), url=url, data=body, headers=dict(headers or {}))
    signer: SigV4Auth = (
        SigV4Auth(credentials, SERVICE, region)
        if presign_expires is None
        else SigV4QueryAuth(credentials, SERVICE, region, expires=presign_expires)
    )
    signer.add_auth(request)
    prepared = request.prepare()
    return SignedRequest(
        method=method.upper(),
        url=str(prepared.url),
        headers={str(k): str(v) for k, v in prepared.headers.items()},
        body=body,
    )
