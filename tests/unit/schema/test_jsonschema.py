"""The committed JSON Schema (shared/src/mallbridge_schema/events.schema.json) equals what the models produce."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mallbridge_schema import jsonschema
from mallbridge_schema.events import OPERATOR_EVENT_TYPES, ORDER_EVENT_TYPES, SYNC_EVENT_TYPES
from mallbridge_schema.serde import events_json_schema

COMMITTED = Path(__file__).resolve().parents[3] / "shared" / "src" / "mallbridge_schema" / "events.schema.json"


def test_the_generator_writes_the_packaged_file() -> None:
    assert jsonschema.SCHEMA_PATH.resolve() == COMMITTED


def test_committed_schema_equals_the_models() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")
    assert json.loads(committed) == events_json_schema(), (
        "events.schema.json is out of date: run `python -m mallbridge_schema.jsonschema`"
    )
    assert committed == jsonschema.render()  # byte for byte, so `--check` agrees


def test_schema_has_the_three_unions_with_every_type() -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert set(schema) == {"order-events.v1", "sync-events.v1", "operator-events.v1"}
    for topic, types in (
        ("order-events.v1", ORDER_EVENT_TYPES),
        ("sync-events.v1", SYNC_EVENT_TYPES),
        ("operator-events.v1", OPERATOR_EVENT_TYPES),
    ):
        union = schema[topic]
        assert union["discriminator"]["propertyName"] == "type"
        assert set(union["discriminator"]["mapping"]) == {cls.__name__ for cls in types}
        for cls in types:
            definition = union["$defs"][cls.__name__]
            for field in ("schema_version", "event_id", "tenant_id", "order_number", "mall_order_id", "type"):
                assert field in definition["properties"], (cls.__name__, field)
            assert {"event_id", "occurred_at", "recorded_at"} <= set(definition["required"])


def test_check_mode(tmp_path: Path) -> None:
    assert jsonschema.main(["--check"]) == 0
    target = tmp_path / "events.schema.json"
    assert jsonschema.main(["--check", "--path", str(target)]) == 1  # missing
    target.write_text("{}\n", encoding="utf-8")
    assert jsonschema.main(["--check", "--path", str(target)]) == 1  # stale
    assert jsonschema.main(["--path", str(target)]) == 0  # rewrite
    assert target.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    assert jsonschema.main(["--check", "--path", str(target)]) == 0


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mallbridge_schema.jsonschema", "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
