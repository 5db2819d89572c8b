"""Keep export URLs (secrets: they may carry a token) out of third-party log records.

httpx logs every request with its full URL at INFO ("HTTP Request: GET https://…?token=…"). The JSON
logging setup raises httpx to WARNING, but ingest must not depend on the root configuration for a
secret, so a filter on the httpx loggers rewrites any URL argument to `scheme://host/…`.
"""

from __future__ import annotations

import logging

import httpx

_LOGGERS = ("httpx", "httpcore")


def _redact(value: object) -> object:
    if isinstance(value, httpx.URL):
        return f"{value.scheme}://{value.host}/…"
    if isinstance(value, str) and "://" in value:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError, ValueError):
            return "<url>"
        return f"{url.scheme}://{url.host}/…"
    return value


class UrlRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = str(_redact(record.msg))
        return True


def install_url_redaction() -> None:
    """Attach the filter to the httpx loggers once per process."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, UrlRedactingFilter) for f in logger.filters):
            logger.addFilter(UrlRedactingFilter())
