"""The API Gateway REST proxy event, checked before Mangum turns it into an ASGI request.

Mangum reads the event as API Gateway documents it and trusts every field: a repeated or
non-numeric `X-Forwarded-Port`, a `Host` with a bad port (`int()` in its
`get_server_and_port`, Kludex/mangum#303), a null `requestContext`, a lone surrogate in a header
or the query string (which it encodes as UTF-8): each raises out of the handler, and API Gateway
gives the client a bare 502. So the handler hands Mangum a copy of the event rebuilt from what
it holds that is well-formed, and answers what cannot be rebuilt itself (`MalformedEventError`,
a 400).

What is rebuilt, and how:
- `requestContext` and its `identity`: objects (a null one is empty); only strings are kept, so a
  key id that is not a string is no key id (and the app refuses the request), and a request id
  that is not a plain token is none (the app makes one);
- headers: `multiValueHeaders` and `headers` merged by lower-case name, values strings;
  `X-Forwarded-Port` kept only as one valid port (it only names the server); a repeated or
  malformed `Host` is a 400, as HTTP requires (RFC 9112, section 3.2);
- the query string: names and values strings;
- the body: text, or valid base64 where `isBase64Encoded` says so.

Nothing here replaces or calls into Mangum: the event it is given is simply one it can read.
"""

import base64
import binascii
import re
from typing import Any

from app.api.text import is_unicode

# A method is a token (RFC 9110, section 9.1); the app answers one it does not route with a 405.
_METHOD = re.compile(r"[A-Z]{1,16}")
# A token of letters, digits and `.-_:`: API Gateway's request ids are UUIDs.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A host name, then an optional port (RFC 9110, section 7.2). API Gateway's hosts are names, its
# own or a custom domain's: an IPv6 literal is refused too, which Mangum would split at a colon.
_HOST = re.compile(r"([^:\[\]]+)(:[0-9]{1,5})?")


class MalformedEventError(ValueError):
    """An event the app cannot be handed: its answer is a 400 naming what is wrong."""


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(mapping: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The members of `mapping` among `names` that are strings of text."""
    return {
        name: value
        for name in names
        if isinstance(value := mapping.get(name), str) and is_unicode(value)
    }


def request_id_of(event: object) -> str | None:
    """API Gateway's id of the request, if the event has a plain one."""
    context = _object(_object(event).get("requestContext"))
    found = context.get("requestId")
    return found if isinstance(found, str) and _PLAIN_TOKEN.fullmatch(found) else None


def _request_context(event: dict[str, Any]) -> dict[str, Any]:
    context = _object(event.get("requestContext"))
    rebuilt: dict[str, Any] = _strings(
        context,
        ("resourcePath", "httpMethod", "path", "stage", "domainName", "apiId", "accountId"),
    )
    if (request_id := request_id_of(event)) is not None:
        rebuilt["requestId"] = request_id
    identity = _object(context.get("identity"))
    rebuilt["identity"] = _strings(identity, ("apiKeyId", "sourceIp", "userAgent"))
    return rebuilt


def _values(value: object, name: str) -> list[str]:
    """A header's or parameter's values: a string, a list of strings, or none (null)."""
    if value is None:
        return []
    found: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str):
            raise MalformedEventError(f"Malformed {name}")
        if not is_unicode(item):
            raise MalformedEventError(f"The {name} is not valid text")
        found.append(item)
    return found


def _merged(event: dict[str, Any], single: str, multi: str, what: str) -> dict[str, list[str]]:
    """The values of each name, from the event's multi-value map, else its single-value one.

    API Gateway fills both; where a crafted event has only one, that one is used.
    """
    merged: dict[str, list[str]] = {}
    for field, fold in ((single, False), (multi, True)):
        for name, value in _object(event.get(field)).items():
            if not isinstance(name, str) or not is_unicode(name):
                raise MalformedEventError(f"Malformed {what}")
            key = name.lower() if what == "header" else name
            values = _values(value, what)
            if fold or key not in merged:
                merged[key] = values if fold else values[-1:]
    return {name: values for name, values in merged.items() if values}


def _headers(event: dict[str, Any]) -> dict[str, list[str]]:
    headers = _merged(event, "headers", "multiValueHeaders", "header")
    hosts = headers.get("host", [])
    if len(hosts) > 1 or (hosts and not _valid_host(hosts[0])):
        raise MalformedEventError("Invalid Host header")
    ports = set(headers.pop("x-forwarded-port", []))
    if len(ports) == 1 and _valid_port(port := ports.pop()):
        headers["x-forwarded-port"] = [port]
    return headers


def _valid_host(host: str) -> bool:
    match = _HOST.fullmatch(host)
    return match is not None and (not match[2] or _valid_port(match[2][1:]))


def _valid_port(port: str) -> bool:
    return port.isascii() and port.isdigit() and 0 < int(port) < 65536


def _body(event: dict[str, Any]) -> tuple[str | None, bool]:
    body = event.get("body")
    encoded = event.get("isBase64Encoded") is True
    if body is None:
        return None, False
    if not isinstance(body, str):
        raise MalformedEventError("Malformed request body")
    if encoded:
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedEventError("Request body is not valid base64") from exc
    elif not is_unicode(body):
        raise MalformedEventError("Request body is not UTF-8 text")
    return body, encoded


def normalize_event(event: object) -> dict[str, Any]:
    """The REST proxy event rebuilt for Mangum, or `MalformedEventError` naming what is wrong."""
    if not isinstance(event, dict):
        raise MalformedEventError("Malformed event")
    method = event.get("httpMethod")
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise MalformedEventError("Malformed method")
    path = event.get("path")
    if not isinstance(path, str) or not path.startswith("/") or not is_unicode(path):
        raise MalformedEventError("Malformed path")
    headers = _headers(event)
    query = _merged(
        event, "queryStringParameters", "multiValueQueryStringParameters", "query string"
    )
    body, encoded = _body(event)
    resource = event.get("resource")
    return {
        "resource": resource if isinstance(resource, str) else "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": _request_context(event),
        "body": body,
        "isBase64Encoded": encoded,
    }
