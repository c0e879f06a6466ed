"""The admin API's request-body contract, enforced before any route runs.

A request body, on any route, is plain JSON or it is refused with a 4xx and a stable code:

- declared ``application/json`` (a charset, if named, is UTF-8) and not compressed, else 415;
- at most :data:`MAX_BODY_BYTES` once API Gateway's base64 transfer encoding is undone, else 413;
- valid UTF-8 and JSON, nested at most :data:`MAX_JSON_DEPTH` deep, no number literal longer than
  :data:`MAX_NUMBER_CHARS`, else 400.

Without these bounds Python's json module answers a deeply nested body with RecursionError and a
long integer with ValueError (its 4,300-digit guard), and undecodable bytes fail in the event
wrapper: each was a 500. Every check here runs in time linear in a body that is already bounded.
An empty body has no media type, so its declared content type is dropped and every route reads
"no body" the same way (a route that needs one answers 422).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from tokengate_core.errors import BodyTooLargeError, InvalidJsonError, UnsupportedMediaTypeError

#: The largest body accepted. A valid body is far smaller: 32 scopes of a few hundred characters
#: and an ARN fit in under 10 KiB, and a client record must fit a 64 KiB secret value.
MAX_BODY_BYTES = 16 * 1024
#: The deepest nesting accepted. Valid bodies nest 2 deep (an object holding the scopes list).
MAX_JSON_DEPTH = 8
#: The longest number literal accepted. The largest valid number (ttl_seconds) has 9 digits.
MAX_NUMBER_CHARS = 32

JSON_MEDIA_TYPE = "application/json"
_UTF8 = {"utf-8", "utf8"}
_SPECIAL = re.compile(r'[\[\]{}"\\]')


class _NumberTooLong(ValueError):
    pass


def accept_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with its body checked and as plain text (``isBase64Encoded`` false), ready for the
    resolver; raises a 4xx TokengateError, and changes nothing, when the body breaks the contract."""
    given = event.get("headers")
    headers = {str(k): v for k, v in given.items()} if isinstance(given, Mapping) else {}
    declared = {k.lower(): str(v) for k, v in headers.items()}
    raw = event.get("body")
    encoded = event.get("isBase64Encoded") is True
    data = _bytes(raw, encoded) if isinstance(raw, str) and raw else b""
    if not data:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return {**event, "headers": headers, "body": None, "isBase64Encoded": False}
    _check_media_type(declared)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJsonError("request body is not UTF-8") from None
    parse_json(text)
    # One spelling of the checked media type, whatever case or parameters the caller used.
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    headers["content-type"] = JSON_MEDIA_TYPE
    return {**event, "headers": headers, "body": text, "isBase64Encoded": False}


def parse_json(text: str) -> Any:
    """JSON within the contract's limits; also the resolver's deserializer, so no route parses a
    body any other way."""
    if _nesting(text) > MAX_JSON_DEPTH:
        raise InvalidJsonError(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _NumberTooLong:
        raise InvalidJsonError(f"a number in the request body is longer than {MAX_NUMBER_CHARS} characters") from None
    except (ValueError, RecursionError):
        raise InvalidJsonError("request body is not valid JSON") from None


def _bytes(raw: str, encoded: bool) -> bytes:
    # Bound the work before decoding: base64 is 4 characters per 3 bytes, UTF-8 at least 1 byte
    # per character.
    longest = (MAX_BODY_BYTES // 3 + 1) * 4 if encoded else MAX_BODY_BYTES
    if len(raw) > longest:
        raise BodyTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = base64.b64decode(raw, validate=True) if encoded else raw.encode("utf-8")
    except (binascii.Error, ValueError):
        # ValueError: a base64 body with non-ASCII characters; UnicodeEncodeError: lone surrogates.
        raise InvalidJsonError("request body cannot be decoded") from None
    if len(data) > MAX_BODY_BYTES:
        raise BodyTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    return data


def _check_media_type(headers: Mapping[str, str]) -> None:
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaTypeError("request body must not be compressed (content-encoding)")
    media, *params = headers.get("content-type", "").split(";")
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in params)
        if name.strip().lower() == "charset"
    ]
    if media.strip().lower() != JSON_MEDIA_TYPE or any(c not in _UTF8 for c in charsets):
        raise UnsupportedMediaTypeError(f"request body must be {JSON_MEDIA_TYPE} (UTF-8)")


def _nesting(text: str) -> int:
    """How deep arrays and objects nest, counting brackets outside strings; stops past the limit.

    One pass over the characters that matter (brackets, quotes, backslashes), so a malformed body
    costs no more than a valid one."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _SPECIAL.finditer(text):
        char, at = match.group(), match.start()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberTooLong
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberTooLong
    return float(literal)


def _constant(literal: str) -> Any:
    """NaN and Infinity are Python's extensions, not JSON."""
    raise ValueError(literal)
