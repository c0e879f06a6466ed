"""The query string under SigV4: the local stack reads it as AWS does (decoded, then encoded and
sorted by SigV4's rules), so every client that follows the rules verifies, however it chose to
encode the query on the wire, and a changed value still does not."""

from __future__ import annotations

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from requests_aws4auth import AWS4Auth

from tests.unit.local.test_iam import ADMIN, REGION, RESOURCE, URL, arrived, creds, denied, verifier
from tokengate.local.iam import SIGNATURE_MISMATCH, Identity, IncomingCall
from tokengate.sigv4 import SERVICE, SignedRequest, query_parameters, sign

#: Parameters whose encodings clients disagree on: '+', ',', '*', spaces, non-ASCII, '=' and '&'
#: inside names and values, repeats out of order, empty values, the unreserved characters.
PARAMETERS: list[list[tuple[str, str]]] = [
    [("q", "a+b")],
    [("q", "a b")],
    [("q", "a,b*c")],
    [("q", "ünïcödé ☃ 漢字")],
    [("z", "1"), ("a", "2"), ("a", "1"), ("a", "10")],
    [("empty", ""), ("tilde~", "-_.~")],
    [("k=e y", "v=a&l;ue"), ("limit", "5")],
    [("q", "!'()*$@:/?[]#%")],
]
#: Queries as a person types them into a URL: requests sends these bytes as they are.
RAW_QUERIES = ["q=a,b*c", "q=a+b", "q=a%20b%2c%2A", "q=%E2%98%83,*&a=1", "flag", "b=2&a=1&a=0", "q=%7e~"]
PARAMETER_IDS = [f"params{i}" for i in range(len(PARAMETERS))]


def aws4auth() -> AWS4Auth:
    secret = ADMIN.secret_access_key.get_secret_value()
    return AWS4Auth(ADMIN.access_key_id, secret, REGION, SERVICE)


def sent_by_requests(prepared: requests.PreparedRequest) -> IncomingCall:
    """What the stage receives from ``requests`` (a GET: no body): URL and headers as prepared."""
    assert prepared.body is None
    headers = {k: str(v) for k, v in prepared.headers.items()}
    return arrived(SignedRequest(method=str(prepared.method), url=str(prepared.url), headers=headers, body=b""))


def signed_by_botocore(params: list[tuple[str, str]]) -> IncomingCall:
    """botocore's own signer with the parameters given as parameters (it encodes the URL itself)."""
    request = AWSRequest(method="GET", url=URL, params=params)  # type: ignore[arg-type]  # pairs: botocore takes either
    SigV4Auth(creds(ADMIN), SERVICE, REGION).add_auth(request)
    prepared = request.prepare()
    return arrived(SignedRequest("GET", str(prepared.url), {str(k): str(v) for k, v in prepared.headers.items()}, b""))


@pytest.mark.parametrize("params", PARAMETERS, ids=PARAMETER_IDS)
def test_requests_aws4auth_signatures_verify(params: list[tuple[str, str]]) -> None:
    prepared = requests.Request("GET", URL, params=params, auth=aws4auth()).prepare()
    assert isinstance(verifier().verify(sent_by_requests(prepared), RESOURCE), Identity), prepared.url


@pytest.mark.parametrize("query", RAW_QUERIES)
def test_requests_aws4auth_signatures_of_typed_queries_verify(query: str) -> None:
    prepared = requests.Request("GET", f"{URL}?{query}", auth=aws4auth()).prepare()
    assert isinstance(verifier().verify(sent_by_requests(prepared), RESOURCE), Identity), prepared.url


@pytest.mark.parametrize("params", PARAMETERS, ids=PARAMETER_IDS)
def test_botocore_signatures_verify(params: list[tuple[str, str]]) -> None:
    assert isinstance(verifier().verify(signed_by_botocore(params), RESOURCE), Identity)


@pytest.mark.parametrize("query", RAW_QUERIES)
def test_our_signer_verifies_whatever_encoding_the_url_uses(query: str) -> None:
    signed = sign("GET", f"{URL}?{query}", credentials=creds(ADMIN), region=REGION)
    assert query_parameters(signed.url.partition("?")[2]) == query_parameters(query), "the values sent are the given"
    assert isinstance(verifier().verify(arrived(signed), RESOURCE), Identity)
    presigned = sign("GET", f"{URL}?{query}", credentials=creds(ADMIN), region=REGION, presign_expires=60)
    assert isinstance(verifier().verify(arrived(presigned), RESOURCE), Identity)


@pytest.mark.parametrize(
    ("signed_query", "sent_query"),
    [
        ("q=a%2Bb", "q=a+b"),  # a plus is not a space
        ("q=a%2Cb", "q=a%252Cb"),  # decoded once, not twice
        ("a=1&a=2", "a=1&a=1"),  # a repeat is a value
        ("a=1&a=2", "a=1"),
        ("flag", "flag=x"),
        ("q=%C3%BC", "q=u"),
    ],
)
def test_another_value_is_still_a_mismatch(signed_query: str, sent_query: str) -> None:
    signed = sign("GET", f"{URL}?{signed_query}", credentials=creds(ADMIN), region=REGION)
    assert isinstance(verifier().verify(arrived(signed), RESOURCE), Identity)
    assert denied(verifier().verify(arrived(signed, url=f"{URL}?{sent_query}"), RESOURCE)) == SIGNATURE_MISMATCH


@pytest.mark.parametrize("sent_query", ["q=a,b", "q=a%2cb", "q=a%2Cb", "q=a%2C%62"])
def test_any_encoding_of_the_same_values_verifies(sent_query: str) -> None:
    signed = sign("GET", f"{URL}?q=a,b", credentials=creds(ADMIN), region=REGION)
    assert isinstance(verifier().verify(arrived(signed, url=f"{URL}?{sent_query}"), RESOURCE), Identity)


def test_percent_encoded_bytes_that_are_not_utf8_are_a_mismatch() -> None:
    signed = sign("GET", f"{URL}?q=x", credentials=creds(ADMIN), region=REGION)
    assert denied(verifier().verify(arrived(signed, url=f"{URL}?q=%FF"), RESOURCE)) == SIGNATURE_MISMATCH
