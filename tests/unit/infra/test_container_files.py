"""The container and deployment files name only what exists in the project (issue 6).

No Docker engine or cluster runs here, so infra/docker/Dockerfile, docker-compose.yml and infra/k8s/*.yaml are
parsed and checked against the real tree at test time (see container_checks): every command they run is a
`mallbridge` subcommand with options its click command accepts, every port they expose or probe is the one the
command listens on, every health path is one the service routes, every path they COPY or mount exists, and every
`env:` secret the tenants files reference is provided (by .env in compose, by the Secret in Kubernetes).
The second half feeds the checker modified copies of the tree and shows it catches each kind of mistake.
"""

from __future__ import annotations

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mallbridge_core import cli as mallbridge_cli
from tests.unit.infra.checks.command import real_resolver
from tests.unit.infra.checks.launch import SERVICE_TARGETS, Launch, check_launch
from tests.unit.infra.checks.project import Project, check_project

ROOT = Path(__file__).resolve().parents[3]


def _show(problems: list[str]) -> str:
    return "\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def project() -> Project:
    return check_project(ROOT)


def _by_command(launches: list[Launch]) -> dict[str, int | None]:
    return {launch.argv[0]: launch.listen_port for launch in launches}


def test_dockerfile_targets_run_real_commands(project: Project) -> None:
    assert project.dockerfile.problems == [], _show(project.dockerfile.problems)
    # one target per service, each checked against its command's real listening port
    assert _by_command(project.dockerfile.launches) == {
        "ingest": 8080,
        "publisher": 8081,
        "sandbox": 8090,
        "audit": None,
        "notify": 8082,
    }
    assert sorted(launch.argv[0] for launch in project.dockerfile.launches) == sorted(SERVICE_TARGETS)


def test_compose_services_match_their_commands(project: Project) -> None:
    assert project.compose.problems == [], _show(project.compose.problems)
    assert _by_command(project.compose.launches) == {
        "sandbox": 8090,
        "ingest": 8080,
        "publisher": 8081,
        "notify": 8082,
        "audit": None,
        "balance": None,
    }
    servers = [launch for launch in project.compose.launches if launch.listen_port is not None]
    # not vacuous: every server had its health check and its tenants file looked at
    assert all(launch.probes for launch in servers)
    assert all(launch.tenants_text is not None for launch in servers)


def test_kubernetes_manifests_match_their_commands(project: Project) -> None:
    assert project.kubernetes.problems == [], _show(project.kubernetes.problems)
    assert _by_command(project.kubernetes.launches) == {
        "ingest": 8080,
        "publisher": 8081,
        "notify": 8082,
        "balance": None,  # the daily CronJob: it serves nothing
    }
    for launch in project.kubernetes.launches:
        served = {"/healthz", "/readyz"} if launch.listen_port is not None else set()
        assert {probe.path for probe in launch.probes} == served
        assert launch.tenants_text is not None
        assert {"ACME_MALL_CLIENT_ID", "GLOBEX_INGEST_SECRET"} <= launch.secret_env


def test_example_tenants_files_and_their_secrets(project: Project) -> None:
    assert project.examples == [], _show(project.examples)


# --- the checker can fail: a modified copy of the tree, one mistake at a time ---------------------------------------

COPIED_FILES = ("docker-compose.yml", ".env.example")
COPIED_DIRS = ("infra/docker", "infra/examples", "infra/k8s")
LINKED_DIRS = ("shared", "services")  # read-only here: the checker only needs them to exist

MUTATIONS = [
    pytest.param(
        "docker-compose.yml",
        '"8080:8080"',
        '"8080:8081"',
        "exposes port 8081, but `mallbridge ingest` listens on 8080",
        id="compose-wrong-port",
    ),
    pytest.param(
        "docker-compose.yml",
        '"--http-port", "8081"',
        '"--http-prot", "8081"',
        "publisher has no option --http-prot",
        id="compose-unknown-option",
    ),
    pytest.param(
        "docker-compose.yml",
        '"--http-port", "8081"',
        '"--http-port", "eighty"',
        "--http-port 'eighty'",
        id="compose-option-value-of-wrong-type",
    ),
    pytest.param(
        "docker-compose.yml",
        '["ingest", "--host"',
        '["ingset", "--host"',
        "'ingset' is not a mallbridge subcommand",
        id="compose-unknown-subcommand",
    ),
    pytest.param(
        "docker-compose.yml",
        "./infra/examples/tenants.compose.toml:",
        "./infra/examples/tenants.missing.toml:",
        "mounts ./infra/examples/tenants.missing.toml, which does not exist",
        id="compose-missing-mount",
    ),
    pytest.param(
        "docker-compose.yml",
        "/etc/mallbridge/tenants.toml:ro",
        "/etc/mallbridge/tenants.toml",
        "should be mounted read-only",
        id="compose-writable-mount",
    ),
    pytest.param(
        "docker-compose.yml",
        "  GLOBEX_INGEST_SECRET: ${GLOBEX_INGEST_SECRET:?copy .env.example to .env}\n",
        "",
        "needs env GLOBEX_INGEST_SECRET, which is not provided",
        id="compose-secret-not-passed",
    ),
    pytest.param(
        "docker-compose.yml",
        "MALLBRIDGE_KAFKA: kafka:9092",
        "MALLBRIDGE_KAFKA: kafka:29092",
        "MALLBRIDGE_KAFKA=kafka:29092 is not an advertised listener",
        id="compose-wrong-kafka-address",
    ),
    pytest.param(
        "docker-compose.yml",
        "/healthz', timeout=4)\"]",
        "/health', timeout=4)\"]",
        "probes /health, but `mallbridge sandbox` serves",
        id="compose-unserved-health-path",
    ),
    pytest.param(
        "infra/examples/tenants.compose.toml",
        'mall_base_url = "http://sandbox:8090/v1"',
        'mall_base_url = "http://sandbox:9090/v1"',
        "but sandbox listens on 8090",
        id="compose-mall-url-wrong-sandbox-port",
    ),
    pytest.param(
        "docker-compose.yml",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 1",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3; a single broker needs 1",
        id="compose-kafka-replication-factor",
    ),
    pytest.param(
        "docker-compose.yml",
        "      sandbox:\n        condition: service_healthy\n",
        "",
        "tenant acme calls sandbox but does not depend_on it",
        id="compose-publisher-does-not-wait-for-sandbox",
    ),
    pytest.param(
        ".env.example",
        "ACME_MALL_CLIENT_ID=change-me-acme-client-id",
        "ACME_MALL_CLIENT_ID=4f1c2a9e7b",
        "ACME_MALL_CLIENT_ID must be an obvious placeholder",
        id="env-example-real-looking-value",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "COPY services/ingest /src/services/ingest",
        "COPY services/ingest-svc /src/services/ingest",
        "COPY services/ingest-svc: no such path",
        id="dockerfile-missing-path",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "EXPOSE 8081",
        "EXPOSE 8018",
        "exposes port 8018, but `mallbridge publisher` listens on 8081",
        id="dockerfile-wrong-expose",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "127.0.0.1:8090/healthz",
        "127.0.0.1:8091/healthz",
        "probes port 8091, but `mallbridge sandbox` listens on 8090",
        id="dockerfile-healthcheck-wrong-port",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "COPY services/publisher /src/services/publisher",
        "COPY services /src/services",
        "target publisher copies services; it may carry only",
        id="dockerfile-image-carries-other-packages",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "COPY --from=build-publisher /opt/venv /opt/venv",
        "COPY --from=build-audit /opt/venv /opt/venv",
        "`mallbridge publisher` is registered by no package the image installs (mallbridge-schema, mallbridge-core, "
        "mallbridge-audit)",
        id="dockerfile-image-lacks-its-subcommand",
    ),
    pytest.param(
        "infra/docker/Dockerfile",
        "USER mallbridge\nEXPOSE 8080",
        "EXPOSE 8080",
        "target ingest: runs as root",
        id="dockerfile-root-user",
    ),
    pytest.param(
        "infra/k8s/publisher.yaml",
        "path: /readyz",
        "path: /ready",
        "probes /ready, but `mallbridge publisher` serves",
        id="k8s-unserved-health-path",
    ),
    pytest.param(
        "infra/k8s/ingest.yaml",
        '"--host", "0.0.0.0"',
        '"--host", "127.0.0.1"',
        "must bind 0.0.0.0",
        id="k8s-binds-loopback",
    ),
    pytest.param(
        "infra/k8s/ingest.yaml",
        "containerPort: 8080",
        "containerPort: 8008",
        "probes port 8008, but `mallbridge ingest` listens on 8080",
        id="k8s-wrong-container-port",
    ),
    pytest.param(
        "infra/k8s/secret.yaml",
        "  GLOBEX_INGEST_SECRET: change-me\n",
        "",
        "needs env GLOBEX_INGEST_SECRET, which is not provided",
        id="k8s-secret-key-missing",
    ),
    pytest.param(
        "infra/k8s/config.yaml",
        "MALLBRIDGE_TOPIC_PREFIX:",
        "MALLBRIDGE_TOPIC_PREFX:",
        "env MALLBRIDGE_TOPIC_PREFX is not read by `mallbridge ingest`",
        id="k8s-env-no-option-reads",
    ),
    pytest.param(
        "infra/k8s/publisher.yaml",
        "replicas: 2",
        "replicas: 8",
        "8 replicas but 6 partitions",
        id="k8s-more-publishers-than-partitions",
    ),
    pytest.param(
        "infra/k8s/ingest.yaml",
        "replicas: 1",
        "replicas: 2",
        "2 ingest replicas would write the same tenants",
        id="k8s-ingest-replicas-share-tenants",
    ),
    pytest.param(
        "infra/k8s/publisher.yaml",
        "minAvailable: 1",
        "minAvailable: 2",
        "minAvailable 2 blocks every drain of publisher",
        id="k8s-pdb-blocks-drains",
    ),
    pytest.param(
        "infra/k8s/balance.yaml",
        'args: ["balance", "--no-progress"]',
        'args: ["balance", "--no-progres"]',
        "`mallbridge balance --no-progres`",
        id="k8s-cronjob-unknown-option",
    ),
    pytest.param(
        "infra/k8s/balance.yaml",
        "mountPath: /etc/mallbridge",
        "mountPath: /etc/mallbridge-config",
        "names /etc/mallbridge/tenants.toml, which is not mounted into the container",
        id="k8s-cronjob-tenants-not-mounted",
    ),
    pytest.param(
        "infra/k8s/balance.yaml",
        "concurrencyPolicy: Forbid",
        "concurrencyPolicy: Allow",
        "CronJob balance should set concurrencyPolicy: Forbid",
        id="k8s-cronjob-overlapping-runs",
    ),
    pytest.param(
        "infra/k8s/kustomization.yaml",
        "  - publisher.yaml\n",
        "  - publisher.yml\n",
        "resource publisher.yml does not exist",
        id="k8s-kustomization-missing-file",
    ),
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the files under test; the packages are linked in unchanged."""
    for name in COPIED_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    for name in COPIED_DIRS:
        shutil.copytree(ROOT / name, tmp_path / name)
    for name in LINKED_DIRS:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def test_an_unmodified_copy_checks_like_the_project(tree: Path, project: Project) -> None:
    assert check_project(tree).problems == project.problems


@pytest.mark.parametrize(("file", "old", "new", "expected"), MUTATIONS)
def test_the_checker_catches(tree: Path, project: Project, file: str, old: str, new: str, expected: str) -> None:
    path = tree / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the mutation no longer applies to {file}: update it"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    new_problems = sorted(set(check_project(tree).problems) - set(project.problems))

    assert any(expected in problem for problem in new_problems), _show(new_problems)


def test_a_subcommand_whose_module_cannot_be_imported_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # the group answers a stub when a registered module is missing; a container running it would only print an error
    registered = dict(mallbridge_cli.registered_commands())
    registered["audit"] = EntryPoint("audit", "mallbridge_not_installed.cli:audit", mallbridge_cli.COMMANDS_GROUP)
    monkeypatch.setattr(mallbridge_cli, "registered_commands", lambda: registered)
    launch = Launch(where="somewhere", argv=["audit"])

    problems = check_launch(launch, real_resolver())

    assert problems == [
        "somewhere: `mallbridge audit` is not available here: mallbridge_not_installed (or its cli module) is not "
        "installed"
    ]


def test_a_settings_variable_is_read_and_checked_like_an_option() -> None:
    # MALLBRIDGE_PUBLISHER_* are read by the publisher's settings class (no option names them)
    launch = Launch(
        where="somewhere",
        argv=["publisher", "--http-host", "0.0.0.0"],
        env={"MALLBRIDGE_PUBLISHER_BACKOFF_MAX_S": "often", "MALLBRIDGE_PARTITIONS": "0"},
    )

    problems = check_launch(launch, real_resolver())

    assert any("env MALLBRIDGE_PUBLISHER_BACKOFF_MAX_S='often'" in p for p in problems), _show(problems)
    assert any("env MALLBRIDGE_PARTITIONS='0'" in p for p in problems), _show(problems)
    assert not any("is not read by" in p for p in problems), _show(problems)
