"""Typed failures of the shared HTTP client: every transport, decoding, URL and policy error becomes one of these.

Each failure carries a short `reason` (a category for tables and counts: `http_404`, `timeout`, `blocked` ...),
a one-line `message` for people, the HTTP `status` when there was one, and whether a retry may help
(`retryable`; 429 and 5xx also carry the server's `retry_after`). The retry loop sets `tries`.
"""

from __future__ import annotations


class HttpFailure(Exception):
    """No usable response. Subclasses say which family; `reason` says exactly what."""

    retryable_default = False

    def __init__(self, reason: str, message: str, *, status: int | None = None, retryable: bool | None = None,
                 retry_after: float | None = None, redirects: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.retryable = self.retryable_default if retryable is None else retryable
        self.retry_after = retry_after
        self.redirects = redirects  # redirects followed before the failure
        self.tries = 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r}, status={self.status})"


class HttpStatusFailure(HttpFailure):
    """The server answered with a status we do not use (`http_NNN`); 429 and 5xx are retryable."""


class TransientFailure(HttpFailure):
    """The exchange broke off: `timeout`, `connect`, `dns` (lookup timed out), `truncated`, `protocol`, `network`."""

    retryable_default = True


class DnsFailure(HttpFailure):
    """The host name does not resolve (`dns`); not retried."""


class BlockedFailure(HttpFailure):
    """The SSRF guard refused the address (`blocked`), on the first request or on a redirect hop."""


class RedirectFailure(HttpFailure):
    """`too_many_redirects`, `redirect_loop`, `unsupported_scheme`, or a 3xx without a Location (`http_3xx`)."""


class TooLarge(HttpFailure):
    """The body is over the size cap (`too_large`): declared by Content-Length or counted while streaming."""


class DecodingFailure(HttpFailure):
    """The body does not decode as its Content-Encoding claims (`decoding`); the same bytes would fail again."""


class InvalidUrl(HttpFailure):
    """The URL cannot be requested (`bad_url`): malformed host or port, no http(s) scheme, bad IDNA label."""
