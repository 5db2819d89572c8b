"""`mallbridge order return|resync|ack` on a real embedded log: exit 0 recorded, 1 refused, 2 could not run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from mallbridge_core.cli import main
from mallbridge_core.eventlog import OutgoingRecord, open_event_log
from mallbridge_core.topics import Topics
from mallbridge_schema.events import Event, OperatorEventBase, OrderEventBase
from mallbridge_schema.serde import decode_operator_event, encode_event, event_key
from tests.unit.domain.builders import ORDER, TENANT, attention, first_seen, updated

TOPICS = Topics(prefix="cli.")
TRACK = ("ZX1-CZ", "https://t.example/ZX1-CZ")


def _append(url: str, *events: Event) -> None:
    async def go() -> None:
        log = open_event_log(url)
        await log.start()
        try:
            await log.ensure_topics([TOPICS.order_events, TOPICS.sync_events])
            for event in events:
                topic = TOPICS.order_events if isinstance(event, OrderEventBase) else TOPICS.sync_events
                await log.append(topic, [OutgoingRecord(event_key(TENANT, ORDER), encode_event(event))])
        finally:
            await log.close()

    asyncio.run(go())


def _recorded(url: str) -> list[OperatorEventBase]:
    async def go() -> list[OperatorEventBase]:
        log = open_event_log(url)
        await log.start()
        try:
            return [decode_operator_event(r.value) async for b in log.replay(TOPICS.operator_events) for r in b]  # type: ignore[misc]
        finally:
            await log.close()

    return asyncio.run(go())


@pytest.fixture
def env(tmp_path: Path) -> tuple[str, Path]:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(f'[tenants.{TENANT}]\nmall_client_id = "env:NOT_SET_AND_NOT_NEEDED"\n')
    url = f"sqlite:///{tmp_path}/events.db"
    _append(url, first_seen("settled", tracking=TRACK))
    return url, tenants


def _run(url: str, tenants: Path | None, *args: str) -> tuple[int, str, str]:
    common = ["--log", url, "--topic-prefix", "cli."] + (["--tenants", str(tenants)] if tenants else [])
    result = CliRunner().invoke(main, ["order", *args, *common], env={"MALLBRIDGE_TENANTS": ""})
    return result.exit_code, result.stdout, result.stderr


def test_return_of_a_shipped_order_exits_0_and_prints_what_was_recorded(env: tuple[str, Path]) -> None:
    url, tenants = env
    _append(url, updated(1, "shipped", {"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]}))
    code, out, _ = _run(
        url, tenants, "return", "--tenant", TENANT, "--order", ORDER, "--reason", "came back", "--by", "jana"
    )
    assert code == 0, out
    [event] = _recorded(url)
    assert (type(event).__name__, event.by, event.reason) == ("OrderReturnRequested", "jana", "came back")
    assert f"Recorded OrderReturnRequested for {TENANT} order {ORDER}" in out
    assert str(event.event_id) in out
    assert '"came back"' in out


def test_by_defaults_to_the_os_user(env: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, tenants = env
    monkeypatch.setenv("LOGNAME", "warehouse-eva")
    code, out, _ = _run(url, tenants, "resync", "--tenant", TENANT, "--order", ORDER)
    assert code == 0, out
    assert [e.by for e in _recorded(url)] == ["warehouse-eva"]


def test_a_refused_return_exits_1_with_the_reason_and_records_nothing(env: tuple[str, Path]) -> None:
    url, tenants = env  # MALL has the order open (assumed): not shipped
    code, _, err = _run(url, tenants, "return", "--tenant", TENANT, "--order", ORDER, "--by", "jana")
    assert code == 1
    assert err.startswith("Refused: MALL has the order open")
    assert "Nothing was recorded" in err
    assert _recorded(url) == []


def test_ack_exits_0_with_an_open_item_and_1_once_it_is_acknowledged(env: tuple[str, Path]) -> None:
    url, tenants = env
    _append(url, attention("cancel_after_shipped"))
    first = _run(url, tenants, "ack", "--tenant", TENANT, "--order", ORDER, "--note", "called MALL", "--by", "jana")
    assert first[0] == 0
    assert "[cancel_after_shipped]" in first[1]
    second = _run(url, tenants, "ack", "--tenant", TENANT, "--order", ORDER, "--by", "jana")
    assert second[0] == 1
    assert "already acknowledged" in second[2]
    assert [e.reason for e in _recorded(url)] == ["called MALL"]


def test_unknown_tenant_and_unknown_order_exit_1(env: tuple[str, Path]) -> None:
    url, tenants = env
    assert _run(url, tenants, "resync", "--tenant", "nobody", "--order", ORDER, "--by", "j")[0] == 1
    code, _, err = _run(url, tenants, "resync", "--tenant", TENANT, "--order", "NOPE-1", "--by", "j")
    assert code == 1
    assert "unknown order NOPE-1" in err
    assert _recorded(url) == []


@pytest.mark.parametrize("problem", ["no tenants file", "bad tenants file", "no log file"])
def test_could_not_run_exits_2_with_one_error_line(env: tuple[str, Path], tmp_path: Path, problem: str) -> None:
    url, tenants = env
    if problem == "no tenants file":
        tenants_arg: Path | None = None
    elif problem == "bad tenants file":
        tenants_arg = tmp_path / "bad.toml"
        tenants_arg.write_text("[tenants.acme]\nlane = 'NOT A LANE'\n")
    else:
        tenants_arg, url = tenants, f"sqlite:///{tmp_path}/missing.db"
    code, out, err = _run(url, tenants_arg, "resync", "--tenant", TENANT, "--order", ORDER, "--by", "j")
    assert code == 2
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: "), lines
    assert not Path(f"{tmp_path}/missing.db").exists()


def test_a_bad_by_is_a_usage_error_naming_the_field(env: tuple[str, Path]) -> None:
    url, tenants = env
    code, _, err = _run(url, tenants, "resync", "--tenant", TENANT, "--order", ORDER, "--by", "   ")
    assert code == 2
    assert "by: must not be empty" in err


def test_a_by_given_empty_is_a_usage_error_not_the_os_user(env: tuple[str, Path]) -> None:
    url, tenants = env
    code, _, err = _run(url, tenants, "resync", "--tenant", TENANT, "--order", ORDER, "--by", "")
    assert code == 2
    assert "by: must not be empty" in err
    assert _recorded(url) == []
