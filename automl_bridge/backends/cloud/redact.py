"""Remove credentials, tokens and signed URLs from text before it is logged, stored or raised.

Example:
    >>> redact("key AKIAABCDEFGHIJKLMNOP and https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&x=1")
    'key AKIA****************... and https://b.s3.amazonaws.com/k?[signed query removed]'
    >>> redact("Authorization: Bearer eyJhbGciOi.x.y")
    'Authorization: Bearer [token removed]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # signed URLs: S3 presigned, GCS signed, Azure SAS -> drop the whole query string
    (re.compile(r"\?([^\s'\"]*(?:X-Amz-Signature|X-Amz-Credential|X-Goog-Signature|"
                r"GoogleAccessId|[?&]sig=|sig=|[?&]se=|sv=)[^\s'\"]*)", re.IGNORECASE),
     "?[signed query removed]"),
    (re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [token removed]"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), r"\1****************..."),
    (re.compile(r"(?i)(aws_secret_access_key|secret_access_key|client_secret|account_key|"
                r"accountkey|sharedaccesskey|password|passwd|pwd|token|api_key|apikey|"
                r"sessiontoken|session_token|x-amz-security-token)(\s*[=:]\s*|\"\s*:\s*\")"
                r"[^\s'\";&,]+"), r"\1\2[removed]"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), "[private key removed]"),
    # passwords in URLs, raw ones with '@', ':', '/' or '%' included: up to the token's last '@'
    (re.compile(r"(://[^/\s:@'\"]+:)[^\s'\"]*@"), r"\1****@"),
    # a bare SAS signature, a Google OAuth access token
    (re.compile(r"(?i)\bsig=[^\s&'\";,]+"), "sig=[removed]"),
    (re.compile(r"\bya29\.[A-Za-z0-9._~+/=-]+"), "ya29.[token removed]"),
)


def redact(text: object, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secret shapes masked, and each of ``secrets`` (exact values the
    caller knows, such as a credential it was given) replaced by ``[removed]``."""
    out = str(text)
    for value in secrets:
        if value and len(str(value)) >= 4:
            out = out.replace(str(value), "[removed]")
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out


def detached(mapped: BaseException, sdk_error: BaseException) -> BaseException:
    """``mapped`` ready to raise without the SDK's exception in its chain.

    SDK errors can quote credentials, tokens or signed URLs, and a printed traceback shows its
    whole chain; so our error is raised with no cause or context, and keeps the SDK error's
    type and redacted text in ``mapped.sdk_error`` (and its HTTP ``status_code``, if any) for
    debugging and for callers that branch on it.
    """
    text = f"{type(sdk_error).__module__}.{type(sdk_error).__qualname__}: {redact(sdk_error)}"
    mapped.sdk_error = text  # type: ignore[attr-defined]
    status = getattr(sdk_error, "status_code", None)
    if isinstance(status, int):
        mapped.status_code = status  # type: ignore[attr-defined]
    mapped.__cause__ = None
    mapped.__suppress_context__ = True
    return mapped
