"""A real `mallbridge notify` process killed with SIGKILL and started again, on Kafka and on the embedded
log: no alert is sent twice, and an alert still owed at the kill goes out after the restart, once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mallbridge_core.eventlog import EventLog, open_event_log
from tests.integration.notify.harness import SyncWriter, needed
from tests.integration.notify.receivers import WebhookReceiver, free_port
from tests.support.eventually import eventually
from tests.support.procs import ServiceProcess

pytestmark = pytest.mark.slow
TENANTS = ("acme", "globex")


@pytest.fixture(params=[pytest.param("kafka", marks=pytest.mark.kafka), "sqlite"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        return f"kafka://{bootstrap}"
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture
async def log(log_url: str) -> AsyncIterator[EventLog]:
    event_log = open_event_log(log_url, partitions=3)
    await event_log.start()
    yield event_log
    await event_log.close()


class Notifiers:
    """Starts `mallbridge notify` processes on one log, tenants file and group; stops them all at the end."""

    def __init__(self, log_url: str, prefix: str, receiver: WebhookReceiver, tmp_path: Path) -> None:
        self.tenants_file = tmp_path / "tenants.toml"
        self.tenants_file.write_text(
            "".join(f'[tenants.{t}]\nnotify_webhook_url = "env:{t.upper()}_NOTIFY_URL"\n' for t in TENANTS)
        )
        self.env = {
            **os.environ,
            **{f"{t.upper()}_NOTIFY_URL": receiver.url(t) for t in TENANTS},
            "MALLBRIDGE_NOTIFY_BACKOFF_BASE_S": "0.05",
            "MALLBRIDGE_NOTIFY_BACKOFF_MAX_S": "0.2",
        }
        self.args = ["notify", "--log", log_url, "--tenants", str(self.tenants_file), "--topic-prefix", prefix]
        self.log_dir = tmp_path
        self.started: list[ServiceProcess] = []

    async def start(self) -> ServiceProcess:
        port = free_port()
        log_file = self.log_dir / f"notify-{len(self.started)}.log"
        process = ServiceProcess([*self.args, "--http-port", str(port)], self.env, http_port=port, log_file=log_file)
        self.started.append(process)

        async def ready() -> bool:
            assert process.proc.poll() is None, f"notify exited:\n{process.log_tail()}"
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200

        await eventually(ready, timeout=90, interval=0.2, retry_on=(httpx.HTTPError,), what="notify ready")
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def notifiers(log_url: str, topic_prefix: str, receiver: WebhookReceiver, tmp_path: Path) -> Iterator[Notifiers]:
    started = Notifiers(log_url, topic_prefix, receiver, tmp_path)
    yield started
    started.stop_all()


async def delivered(process: ServiceProcess) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{process.http_port}/metrics", timeout=2)).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mallbridge_notify_alerts_delivered_total")
    )


def received_orders(receiver: WebhookReceiver) -> Counter[str]:
    """How often each order's alert was accepted (the order number is the alert's first `order …` word)."""
    return Counter(
        text.split("order ", 1)[1].split(" ", 1)[0] for hook in receiver.hooks.values() for text in hook.texts()
    )


async def test_no_alert_is_repeated_after_a_sigkill_and_restart(
    log: EventLog, topic_prefix: str, receiver: WebhookReceiver, notifiers: Notifiers
) -> None:
    writer = SyncWriter(log, topic_prefix)
    first = await notifiers.start()
    items = [needed(TENANTS[i % 2], f"K-{i}") for i in range(20)]
    await writer.write(*items[:10])
    await writer.write(*items[10:])
    await eventually(lambda: sum(received_orders(receiver).values()) == 20, timeout=60, what="20 alerts")

    # "already delivered" = recorded as delivered in the ledger (a kill between a receiver's 200 and that
    # record is the one window where an alert goes out again: see the package README)
    async def recorded() -> bool:
        return await delivered(first) == 20

    await eventually(recorded, what="20 deliveries recorded")
    first.kill()
    assert first.proc.returncode == -signal.SIGKILL

    await notifiers.start()
    await writer.write(needed("acme", "MARKER"))
    await eventually(lambda: received_orders(receiver)["MARKER"] == 1, timeout=60, what="the marker's alert")
    counts = received_orders(receiver)
    assert counts == Counter({**{f"K-{i}": 1 for i in range(20)}, "MARKER": 1})


async def test_an_alert_owed_at_the_kill_goes_out_once_after_the_restart(
    log: EventLog, topic_prefix: str, receiver: WebhookReceiver, notifiers: Notifiers
) -> None:
    writer = SyncWriter(log, topic_prefix)
    acme = receiver.hook("acme")
    acme.script = [500] * 10_000  # down for now
    first = await notifiers.start()
    await writer.write(needed("acme", "OWED-1"), needed("acme", "OWED-2"), needed("globex", "G-1"))
    await eventually(lambda: len(acme.requests) >= 3, what="acme's webhook failing and being retried")
    await eventually(lambda: received_orders(receiver)["G-1"] == 1)
    first.kill()

    acme.script.clear()  # acme's webhook is back
    await notifiers.start()
    await eventually(lambda: received_orders(receiver)["OWED-2"] == 1, timeout=60, what="the owed alerts")
    await writer.write(needed("acme", "MARKER"))
    await eventually(lambda: received_orders(receiver)["MARKER"] == 1, timeout=60)
    assert received_orders(receiver) == Counter({"OWED-1": 1, "OWED-2": 1, "G-1": 1, "MARKER": 1})
