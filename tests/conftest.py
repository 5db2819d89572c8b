"""Session fixtures: a real Kafka broker, and a fresh topic prefix per test.

Broker choice: `MALLBRIDGE_KAFKA` set → that broker; otherwise a Docker engine present → testcontainers'
Kafka; otherwise → the project's own `infra/kafka` broker on a free port, started once per run and
stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles (CONTRIBUTING.md, "Tests"): `ci`, the default, runs each property test on 50 new cases
# per run (no deadline: a loaded 2-core CI machine is no place to time a case); `HYPOTHESIS_PROFILE=thorough`
# runs 1000 cases each, for a change to the domain, the folds or the file readers. A test that names its own
# `max_examples` keeps it (a coverage guard, the push API's fuzz).
settings.register_profile("ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class LocalBroker:
    """The infra/kafka broker in a private state dir on free ports; stop() leaves no process behind."""

    def __init__(self) -> None:
        self.port = free_port()
        self.state = Path(tempfile.mkdtemp(prefix="mallbridge-kafka-"))
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_HOME_DIR": str(self.state),
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run([str(KAFKA_SH), "up"], env=self.env, check=True, capture_output=True, text=True)

    def stop(self) -> None:
        subprocess.run([str(KAFKA_SH), "down"], env=self.env, check=False, capture_output=True)

    def start_keeping_data(self) -> None:
        """Start again on the data of the last start (after stop(); for broker-loss tests)."""
        subprocess.run([str(KAFKA_SH), "start"], env=self.env, check=True, capture_output=True, text=True)

    def restart_keeping_data(self) -> None:
        """Stop and start the same broker with its data (for broker-loss tests)."""
        subprocess.run([str(KAFKA_SH), "restart"], env=self.env, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def running_broker() -> Iterator[LocalBroker]:
    """A LocalBroker, started; stopped and its state dir removed afterwards."""
    broker = LocalBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.state, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalBroker | None]:
    """The local broker object when this run started one (tests that stop the broker need it), else None."""
    if os.environ.get("MALLBRIDGE_KAFKA"):
        yield None
        return
    if _docker_available():
        yield None
        return
    with running_broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: LocalBroker | None) -> Iterator[str]:
    given = os.environ.get("MALLBRIDGE_KAFKA")
    if given:
        yield given
        return
    if kafka_broker is not None:
        yield kafka_broker.bootstrap
        return
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer().with_kraft() as container:
        yield container.get_bootstrap_server()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, so tests never see each other's data."""
    return f"test-{uuid.uuid4().hex[:12]}."


@pytest.fixture(params=[pytest.param("kafka", marks=pytest.mark.kafka), "sqlite"])
def event_log_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One test body, both engines: `kafka://HOST:PORT` (the session's real broker) and
    `sqlite:///abs/path/events.db`. Only the Kafka variant needs the broker, so `-m "not kafka"` needs no Java."""
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    return f"sqlite://{tmp_path_factory.mktemp('eventlog') / 'events.db'}"
