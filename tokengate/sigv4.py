"""Client-side SigV4 for the admin API (service ``execute-api``): botocore signs, nothing is hand-rolled.

The CLI and the tests sign with this module; the local stack verifies with the same botocore
signer (see :mod:`tokengate.local.iam`), so a request that passes locally passes in AWS too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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
    # The query goes to botocore as parameters, read as the stage reads them: botocore encodes
    # and sorts them for the signature, and writes the URL's query from the same values.
    parts = urlsplit(url)
    params = query_parameters(parts.query)
    request = AWSRequest(
        method=method.upper(),
        url=urlunsplit(parts._replace(query="")),
        data=body,
        headers=dict(headers or {}),
        params=cast("dict[str, Any]", params),  # pairs, repeats kept: botocore takes either
    )
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


def query_parameters(raw_query: str) -> list[tuple[str, str]]:
    """The query's parameters as AWS reads them before it checks a signature: split at ``&``,
    decoded, repeats and empty values kept; botocore then encodes each name and value (RFC 3986's
    unreserved characters as they are, anything else ``%XY`` of its UTF-8, so a space is ``%20``)
    and sorts by name, then value: the canonical query string of
    https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html. So ``a,b``,
    ``a%2Cb`` and ``a%2cb`` sign alike, whatever a client chose to send.

    ``+`` is a space, as in any form-encoded query: API Gateway hands ``?sort=-+createdAt`` to an
    integration as ``"- createdAt"`` (aws/aws-cdk#19827), and the local gateway builds
    ``queryStringParameters`` with this same rule, so a signature covers the values the
    integration receives. botocore's own ``AWSRequest(params=...)`` agrees: it sends a space as
    ``+`` and signs ``%20``. A literal plus is sent as ``%2B``. Raises UnicodeDecodeError for
    percent-encoded bytes that are not UTF-8."""
    return parse_qsl(raw_query, keep_blank_values=True, errors="strict")
