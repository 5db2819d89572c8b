"""Keep MALL webhook tokens out of log records and error texts: `…/mall-webhook/<token>` → `…/mall-webhook/***`.

The token is the path's last segment (ARCHITECTURE.md §6), a secret like the tenant's other secrets.
"""

from __future__ import annotations

import logging
import re

# Everything after the segment, up to a query, a fragment, a space or a quote: a token with a slash in it
# reaches no route, and the whole of it is still masked.
_TOKEN_IN_PATH = re.compile(r"(/mall-webhook/)[^?#\s\"']*")


def mask_token(text: str) -> str:
    """`…/mall-webhook/<token>` → `…/mall-webhook/***`."""
    return _TOKEN_IN_PATH.sub(r"\1***", text)


class TokenRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_token(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "/mall-webhook/" in record.msg:
            record.msg = mask_token(record.msg)
        return True


def install_token_redaction() -> None:
    """Attach the filter to uvicorn's loggers once per process."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
