"""The AsyncAPI document: valid AsyncAPI 3.0, complete (every event type of every union, with the schema's
examples), and the committed copies (docs/asyncapi.yaml, the schema package's asyncapi.json) up to date.

The AsyncAPI 3.0.0 JSON Schema is vendored in schemas/asyncapi-3.0.0.json, from
https://github.com/asyncapi/spec-json-schemas/blob/7dd3990d9fff9df76e81c8d2ab544e0000f29aff/schemas/3.0.0.json
(see schemas/SOURCE.md). It is bundled: every definition it refers to is inside it, so nothing is fetched.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator

from mallbridge_ingest.bootstrap import IngestSettings, build_app
from mallbridge_notify.asyncapi import asyncapi_document, asyncapi_yaml
from mallbridge_notify.domain.ledger import AlertDelivered, AlertQueued
from mallbridge_schema import asyncapi as shipped
from mallbridge_schema.events import OPERATOR_EVENT_TYPES, ORDER_EVENT_TYPES, SYNC_EVENT_TYPES
from mallbridge_schema.examples import OPERATOR_EXAMPLES, ORDER_EXAMPLES, SYNC_EXAMPLES
from tests.support.procs import MALLBRIDGE
from tests.unit.notify.fakes import FakeEventLog

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "asyncapi-3.0.0.json").read_text(encoding="utf-8"))
UNIONS = {
    "order-events.v1": ORDER_EVENT_TYPES,
    "sync-events.v1": SYNC_EVENT_TYPES,
    "operator-events.v1": OPERATOR_EVENT_TYPES,
    "notify-alerts.v1": (AlertQueued, AlertDelivered),
}
REGENERATE = (
    "regenerate both: `mallbridge asyncapi --yaml > docs/asyncapi.yaml` and "
    "`mallbridge asyncapi > shared/src/mallbridge_schema/asyncapi.json`"
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in Draft7Validator(SCHEMA).iter_errors(document)
    ]


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert errors(document) == []


@pytest.mark.parametrize(
    ("where", "bad"),
    [
        (("asyncapi",), "3.0"),
        (("channels", "sync-events.v1", "address"), 42),
        (("components", "messages", "sync-events.v1.Message", "examples"), "AttentionNeeded"),
        (("operations", "order-events.v1", "action"), "publish"),
    ],
    ids=["version", "address", "examples", "action"],
)
def test_the_validation_can_fail(document: dict[str, Any], where: tuple[str, ...], bad: object) -> None:
    broken = copy.deepcopy(document)
    target = broken
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = bad
    assert errors(broken) != []


def test_every_component_has_a_name_asyncapi_allows(document: dict[str, Any]) -> None:
    # the spec's rule for component keys; its JSON Schema checks only the keys that match it
    pattern = re.compile(r"^[a-zA-Z0-9.\-_]+$")
    for section, entries in document["components"].items():
        bad = [name for name in entries if not pattern.match(name)]
        assert bad == [], section
    refs = re.findall(r'"\$ref": "#/components/(\w+)/([^"]+)"', json.dumps(document))
    assert refs
    assert all(name in document["components"][section] for section, name in refs)


def payload_types(document: dict[str, Any], topic: str) -> set[str]:
    schemas = document["components"]["schemas"]
    payload = schemas[f"{topic}.Message.Payload"]
    return {ref["$ref"].rsplit("/", 1)[-1] for ref in payload["oneOf"]}


@pytest.mark.parametrize("topic", UNIONS)
def test_every_event_type_of_every_union_is_named_with_its_schema(document: dict[str, Any], topic: str) -> None:
    names = {cls.__name__ for cls in UNIONS[topic]}
    assert payload_types(document, topic) == names
    for name in names:
        schema = document["components"]["schemas"][name]
        assert schema["properties"]["type"]["const"] == name


def test_every_topic_mallbridge_writes_is_a_channel_with_its_key(document: dict[str, Any]) -> None:
    channels = document["channels"]
    assert list(channels) == [
        "order-events.v1",
        "sync-events.v1",
        "operator-events.v1",
        "dead-letter.v1",
        "notify-alerts.v1",
    ]
    for name, channel in channels.items():
        assert channel["address"] == f"mallbridge.{name}"
        assert document["operations"][name]["action"] == "send"
        message = document["components"]["messages"][f"{name}.Message"]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
    dead = document["components"]["messages"]["dead-letter.v1.Message"]
    assert set(dead["headers"]["properties"]) == {"source-topic", "source-partition", "source-offset", "error"}


@pytest.mark.parametrize(
    ("topic", "examples"),
    [("order-events.v1", ORDER_EXAMPLES), ("sync-events.v1", SYNC_EXAMPLES), ("operator-events.v1", OPERATOR_EXAMPLES)],
)
def test_the_examples_are_the_schemas_own(document: dict[str, Any], topic: str, examples: list[Any]) -> None:
    shown = document["components"]["messages"][f"{topic}.Message"]["examples"]
    assert [e["payload"] for e in shown] == [event.model_dump(mode="json") for event in examples]
    assert {e["name"] for e in shown} == {cls.__name__ for cls in UNIONS[topic]}


def test_the_description_tells_an_integrator_how_to_read(document: dict[str, Any]) -> None:
    text = document["info"]["description"]
    for needed in ("{tenant_id}:{order_number}", "event_id", "schema_version", "Ignore fields", "--topic-prefix"):
        assert needed in text, needed


def test_the_committed_copies_are_up_to_date(document: dict[str, Any]) -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert committed == asyncapi_yaml(), f"docs/asyncapi.yaml is out of date; {REGENERATE}"
    assert yaml.safe_load(committed) == document
    shipped_text = (ROOT / "shared" / "src" / "mallbridge_schema" / "asyncapi.json").read_text(encoding="utf-8")
    assert json.loads(shipped_text) == document, f"the shipped asyncapi.json is out of date; {REGENERATE}"
    assert shipped.asyncapi_document() == document


def test_the_command_prints_json_or_yaml(document: dict[str, Any]) -> None:
    as_json = subprocess.run([str(MALLBRIDGE), "asyncapi"], capture_output=True, text=True, check=True, timeout=60)
    as_yaml = subprocess.run(
        [str(MALLBRIDGE), "asyncapi", "--yaml"], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(as_json.stdout) == document
    assert yaml.safe_load(as_yaml.stdout) == document
    assert as_yaml.stdout == (ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")


async def test_ingest_serves_it(document: dict[str, Any]) -> None:
    app = build_app(settings=IngestSettings(topic_prefix="t."), log=FakeEventLog(), tenants={})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == document


def test_every_payload_lists_its_union_tag_as_required(document: dict[str, Any]) -> None:
    # AsyncAPI 3.0, Schema Object: the discriminator property MUST be in the required list.
    tagged = {
        name: s
        for name, s in document["components"]["schemas"].items()
        if "const" in s.get("properties", {}).get("type", {})
    }
    assert tagged
    assert [name for name, s in tagged.items() if "type" not in s.get("required", [])] == []
