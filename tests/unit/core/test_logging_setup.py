"""The JSON log lines every service writes (`logging_setup.JsonFormatter`)."""

from __future__ import annotations

import json
import logging

from mallbridge_core.logging_setup import JsonFormatter


def _line(record: logging.LogRecord) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_carries_the_message_and_the_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "mallbridge.x", "levelname": "WARNING", "msg": "push %s", "args": ("refused",), "tenant": "acme"}
    )
    line = _line(record)
    assert line["level"] == "warning"
    assert line["logger"] == "mallbridge.x"
    assert line["msg"] == "push refused"
    assert line["tenant"] == "acme"
    assert "args" not in line


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelname": "INFO",
            "msg": "Started server process [%d]",
            "args": (42,),
            "color_message": "Started server process [\x1b[36m%d\x1b[0m]",
        }
    )
    line = _line(record)
    assert line["msg"] == "Started server process [42]"
    assert "color_message" not in line
    assert "\x1b" not in json.dumps(line, ensure_ascii=False)
