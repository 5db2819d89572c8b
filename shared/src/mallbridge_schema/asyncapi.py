"""The AsyncAPI 3.0 document of every topic mallbridge writes, as shipped with the schema (`asyncapi.json`).

`mallbridge asyncapi` (mallbridge-notify) generates it with FastStream from the unions in `events.py`;
the copy here lets a service serve it without FastStream (ingest at `/asyncapi.json`). A test fails when
this copy, or `docs/asyncapi.yaml`, differs from what the generator makes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

ASYNCAPI_FILE = "asyncapi.json"


@cache
def _text() -> str:
    return files("mallbridge_schema").joinpath(ASYNCAPI_FILE).read_text(encoding="utf-8")


def asyncapi_document() -> dict[str, Any]:
    """The shipped document (a fresh copy each call: callers may change theirs)."""
    document: dict[str, Any] = json.loads(_text())
    return document
