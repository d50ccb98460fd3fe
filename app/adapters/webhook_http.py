"""A delivery's HTTP exchange, and the DNS lookup that says where it may go.

The request goes to one of the addresses the host resolved to when the destination was checked
(`app.domain.destinations.check_url`), not to whatever the host resolves to a moment later: a name
that answers a public address to the check and a private one to the connection (DNS rebinding)
reaches nothing. TLS still verifies the certificate against the host's name (SNI and hostname
checks on the pinned connection). Redirects are never followed; nothing is retried here: the
schedule is the caller's.
"""

import email.utils
import socket
import time

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from app.domain.destinations import Destination
from app.domain.errors import UnsafeWebhookUrlError
from app.domain.webhooks import Answer

USER_AGENT = "enrollment-service-webhooks/1"
# What is read of a receiver's answer: its status is all that counts.
MAX_ANSWER_BYTES = 4096


class SystemResolver:
    """DNS, as the operating system resolves names."""

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`; `UnsafeWebhookUrlError` if it resolves to none."""
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeWebhookUrlError("the host must resolve to an address") from exc
        return sorted({str(info[4][0]) for info in found})


def post(destination: Destination, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to the destination's first checked address; the answer, never an exception."""
    address = destination.addresses[0]
    default_port = 443 if destination.scheme == "https" else 80
    host = (
        destination.host
        if destination.port == default_port
        else (f"{destination.host}:{destination.port}")
    )
    pool: urllib3.HTTPConnectionPool
    if destination.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            destination.port,
            server_hostname=destination.host,
            assert_hostname=destination.host,
            cert_reqs="CERT_REQUIRED",
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, destination.port, maxsize=1)
    try:
        response = pool.urlopen(
            "POST",
            destination.target,
            body=body,
            headers={
                "Host": host,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(total=timeout),
            preload_content=False,
        )
        try:
            response.read(MAX_ANSWER_BYTES)
        finally:
            response.release_conn()
        return Answer(response.status, retry_after_seconds(response.headers.get("Retry-After")))
    except Urllib3TimeoutError:
        return Answer(error=f"no answer within {timeout:g} s")
    except SSLError as exc:
        return Answer(error=f"TLS failed: {exc.__class__.__name__}")
    except NewConnectionError:
        return Answer(error="connection refused or unreachable")
    except HTTPError as exc:
        return Answer(error=f"the exchange failed: {exc.__class__.__name__}")
    finally:
        pool.close()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A `Retry-After` header's delay in seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))
