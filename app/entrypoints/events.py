"""API Gateway REST proxy events, in the shape the `{proxy+}` resource sends them to Lambda.

SnapStart priming serves its requests through the handler with these, and the tests and
benchmarks use them too, so that every event the handler is shown has the shape AWS gives it.
"""

import json
from typing import Any
from urllib.parse import parse_qs

# The key id the events name by default: the stack's own key, where tests and benchmarks say so.
SAMPLE_API_KEY_ID = "k1l2m3n4o5"


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    api_key_id: str | None = SAMPLE_API_KEY_ID,
    stage: str = "v1",
    base_path: str | None = None,
    request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
) -> dict[str, Any]:
    """The event of one request from the caller whose API key has `api_key_id`.

    The client called the API's own URL (`/{stage}{path}`), or with `base_path` a custom domain
    (`{base_path}{path}`, `""` for a mapping at `/`). A query string in `path` (`?limit=1`) is
    given as API Gateway gives it: decoded, each parameter's last value, and all of them.
    """
    path, _, query_string = path.partition("?")
    query = parse_qs(query_string, keep_blank_values=True)
    host = "abcdef1234.execute-api.us-east-1.amazonaws.com"
    all_headers = {"Accept": "application/json", "Host": host, **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    called = f"/{stage}{path}" if base_path is None else f"{base_path}{path}"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "x1y2z3",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": called,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "abcdef1234",
            "requestId": request_id,
            "identity": {
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0",
                **({"apiKeyId": api_key_id} if api_key_id is not None else {}),
            },
            "domainName": host,
            "apiId": "abcdef1234",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
