"""docker-compose.yml: the services built from the Dockerfile, the Kafka broker, mounts, env and .env.example."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.unit.infra.checks.command import Resolver
from tests.unit.infra.checks.dockerfile import Dockerfile
from tests.unit.infra.checks.launch import (
    INTERPOLATION,
    KAFKA_IMAGE,
    PLACEHOLDER,
    Launch,
    MountedFile,
    Report,
    check_health_command,
    check_launch,
    probe_from_command,
)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _as_argv(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _compose_env(raw: Any) -> dict[str, str]:
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {str(k): "" if v is None else str(v) for k, v in (raw or {}).items()}


def _container_ports(raw: Any) -> list[int]:
    ports = []
    for item in raw or []:
        if isinstance(item, dict):
            ports.append(int(item["target"]))
        else:
            ports.append(int(str(item).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def _healthcheck_argv(raw: Any) -> list[str] | None:
    if not raw or raw.get("disable"):
        return None
    test = raw.get("test")
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if test and test[0] == "CMD":
        return [str(t) for t in test[1:]]
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", str(test[1])]
    return None


class Compose:
    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.root = root
        self.rel = path.relative_to(root).as_posix()
        self.data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.services: dict[str, dict[str, Any]] = self.data.get("services") or {}
        self.dockerfiles: dict[Path, Dockerfile] = {}

    def check(self, resolve: Resolver) -> Report:
        report = Report()
        launches: dict[str, Launch] = {}
        for name, service in self.services.items():
            where = f"{self.rel} services.{name}"
            report.problems.extend(self._check_depends_on(name, service, where))
            if str(service.get("image", "")).startswith("apache/kafka"):
                report.problems.extend(self._check_kafka(service, where))
                continue
            launch = self._launch(name, service, where, report.problems)
            if launch is not None:
                launches[name] = launch
        for launch in launches.values():
            report.problems.extend(check_launch(launch, resolve))
        report.launches = list(launches.values())
        report.problems.extend(self._check_kafka_clients(launches))
        report.problems.extend(self._check_mall_urls(launches))
        report.problems.extend(self._check_env_example())
        return report

    def _dockerfile(self, service: dict[str, Any], where: str, problems: list[str]) -> tuple[Dockerfile, str] | None:
        build = service.get("build")
        if not isinstance(build, dict):
            problems.append(f"{where}: build it from the project (build: context, dockerfile, target)")
            return None
        context = self.path.parent / str(build.get("context", "."))
        file = context / str(build.get("dockerfile", "Dockerfile"))
        if not file.is_file():
            problems.append(f"{where}: build.dockerfile {file.relative_to(self.root)} does not exist")
            return None
        if file not in self.dockerfiles:
            self.dockerfiles[file] = Dockerfile(file, self.root)
        dockerfile = self.dockerfiles[file]
        target = str(build.get("target", ""))
        if target not in dockerfile.stages:
            problems.append(f"{where}: build.target {target!r} is not a stage of {dockerfile.rel}")
            return None
        return dockerfile, target

    def _launch(self, name: str, service: dict[str, Any], where: str, problems: list[str]) -> Launch | None:
        built = self._dockerfile(service, where, problems)
        if built is None:
            return None
        dockerfile, target = built
        image = dockerfile.image(target)
        entrypoint = _as_argv(service["entrypoint"]) if "entrypoint" in service else image.entrypoint
        command = _as_argv(service["command"]) if "command" in service else image.cmd
        if entrypoint != ["mallbridge"]:
            problems.append(f"{where}: runs {entrypoint}, expected the `mallbridge` entrypoint")
            return None
        env = image.env | _compose_env(service.get("environment"))
        secret_env = {key for key, value in env.items() if INTERPOLATION.fullmatch(value)}
        launch = Launch(where=where, argv=list(command or []), env=env, secret_env=secret_env)
        launch.ports = _container_ports(service.get("ports")) + [int(p) for p in service.get("expose") or []]
        health = _healthcheck_argv(service.get("healthcheck")) if "healthcheck" in service else image.healthcheck
        if health:
            label = f"{where} healthcheck" if "healthcheck" in service else f"{where} (image HEALTHCHECK)"
            problems.extend(check_health_command(health, label))
            probe = probe_from_command(health, label)
            launch.probes = [probe] if probe else []
        launch.files = self._mounts(service, where, problems)
        return launch

    def _mounts(self, service: dict[str, Any], where: str, problems: list[str]) -> dict[str, MountedFile]:
        files: dict[str, MountedFile] = {}
        named_volumes = self.data.get("volumes") or {}
        for item in service.get("volumes") or []:
            if isinstance(item, dict):
                source, target = str(item.get("source", "")), str(item["target"])
                read_only, bind = bool(item.get("read_only")), item.get("type") == "bind"
            else:
                parts = str(item).split(":")
                source, target = parts[0], parts[1]
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
                bind = source.startswith((".", "/", "~"))
            if not bind:
                if source not in named_volumes:
                    problems.append(f"{where}: volume {source!r} is not declared under top-level volumes")
                continue
            host = (self.path.parent / source).resolve()
            label = f"{source} -> {target}"
            if not host.exists():
                problems.append(f"{where}: mounts {source}, which does not exist in the repo")
            elif host.is_file():
                files[target] = MountedFile(label, host.read_text(encoding="utf-8"), read_only)
            else:
                for file in host.rglob("*"):
                    if file.is_file():
                        inner = f"{target.rstrip('/')}/{file.relative_to(host).as_posix()}"
                        files[inner] = MountedFile(label, file.read_text(encoding="utf-8"), read_only)
        return files

    def _check_depends_on(self, name: str, service: dict[str, Any], where: str) -> list[str]:
        raw = service.get("depends_on") or {}
        deps = {d: {"condition": "service_started"} for d in raw} if isinstance(raw, list) else raw
        problems = []
        for dep, spec in deps.items():
            if dep not in self.services:
                problems.append(f"{where}: depends_on {dep!r}, which is not a service")
            elif (spec or {}).get("condition") == "service_healthy" and not self._has_healthcheck(dep):
                problems.append(f"{where}: waits for {dep} to be healthy, but {dep} has no health check")
        return problems

    def _has_healthcheck(self, name: str) -> bool:
        service = self.services[name]
        if "healthcheck" in service:
            return _healthcheck_argv(service["healthcheck"]) is not None
        build = service.get("build")
        if isinstance(build, dict):
            file = self.path.parent / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))
            if file.is_file():
                return bool(Dockerfile(file, self.root).image(str(build.get("target", ""))).healthcheck)
        return False

    def _kafka_service(self) -> tuple[str, dict[str, str]] | None:
        for name, service in self.services.items():
            if str(service.get("image", "")).startswith("apache/kafka"):
                return name, _compose_env(service.get("environment"))
        return None

    def _check_kafka(self, service: dict[str, Any], where: str) -> list[str]:
        """Single-node KRaft on the official image: both roles, its own controller quorum, replication 1."""
        problems = []
        if service.get("image") != KAFKA_IMAGE:
            problems.append(f"{where}: image {service.get('image')}, expected {KAFKA_IMAGE}")
        env = _compose_env(service.get("environment"))
        required = (
            "KAFKA_NODE_ID",
            "KAFKA_PROCESS_ROLES",
            "KAFKA_LISTENERS",
            "KAFKA_ADVERTISED_LISTENERS",
            "KAFKA_CONTROLLER_LISTENER_NAMES",
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        )
        problems.extend(f"{where}: KRaft needs {key}" for key in required if key not in env)
        roles = set(env.get("KAFKA_PROCESS_ROLES", "").split(","))
        if roles != {"broker", "controller"}:
            problems.append(f"{where}: KAFKA_PROCESS_ROLES should be broker,controller (single node)")
        node, voters = env.get("KAFKA_NODE_ID", ""), env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
        if not any(v.split("@")[0] == node for v in voters.split(",")):
            problems.append(f"{where}: node {node} is not in KAFKA_CONTROLLER_QUORUM_VOTERS {voters}")
        controller_ports = {v.rsplit(":", 1)[-1] for v in voters.split(",") if ":" in v}
        listener_ports = {item.rsplit(":", 1)[-1] for item in env.get("KAFKA_LISTENERS", "").split(",")}
        if not controller_ports <= listener_ports:
            problems.append(f"{where}: the quorum voters' port is not one of KAFKA_LISTENERS")
        problems.extend(
            f"{where}: {key}={value}; a single broker needs 1"
            for key, value in env.items()
            if key.endswith("REPLICATION_FACTOR") and value != "1"
        )
        if _healthcheck_argv(service.get("healthcheck")) is None:
            problems.append(f"{where}: no health check (the services wait for it)")
        return problems

    def _check_kafka_clients(self, launches: dict[str, Launch]) -> list[str]:
        """Every service that talks to Kafka uses an advertised listener and waits for the broker."""
        kafka = self._kafka_service()
        if kafka is None:
            return [f"{self.rel}: no Kafka service (image {KAFKA_IMAGE})"]
        kafka_name, env = kafka
        advertised = {item.split("://")[-1] for item in env.get("KAFKA_ADVERTISED_LISTENERS", "").split(",")}
        problems = []
        for name, launch in launches.items():
            address = launch.env.get("MALLBRIDGE_KAFKA")
            if address is None:
                continue
            if address not in advertised:
                problems.append(
                    f"{launch.where}: MALLBRIDGE_KAFKA={address} is not an advertised listener {advertised}"
                )
            deps = self.services[name].get("depends_on") or {}
            if kafka_name not in deps:
                problems.append(f"{launch.where}: talks to Kafka but does not depend_on {kafka_name}")
        return problems

    def _check_mall_urls(self, launches: dict[str, Launch]) -> list[str]:
        """A tenants file pointing MALL at a compose service (the sandbox) uses its port and waits for it."""
        problems = []
        for name, launch in launches.items():
            if launch.tenants_text is None or launch.argv[:1] != ["publisher"]:  # only the publisher calls MALL
                continue
            for tenant, table in (tomllib.loads(launch.tenants_text).get("tenants") or {}).items():
                url = urlsplit(str(table.get("mall_base_url", "")))
                if url.hostname not in launches:
                    continue
                target = launches[url.hostname]
                if url.port != target.listen_port:
                    problems.append(
                        f"{launch.where}: tenant {tenant} calls {url.geturl()}, but {url.hostname} listens on "
                        f"{target.listen_port}"
                    )
                if url.hostname not in (self.services[name].get("depends_on") or {}):
                    problems.append(f"{launch.where}: tenant {tenant} calls {url.hostname} but does not depend_on it")
        return problems

    def _check_env_example(self) -> list[str]:
        """Every variable compose interpolates without a default is listed in .env.example, with a fake value."""
        example = self.path.parent / ".env.example"
        if not example.is_file():
            return [f"{self.rel}: interpolates variables but there is no .env.example next to it"]
        listed = read_env_file(example)
        text = self.path.read_text(encoding="utf-8")
        needed = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(2) in (None, ":?", "?")}
        problems = [f"{self.rel}: ${{{name}}} is not listed in .env.example" for name in sorted(needed - set(listed))]
        problems.extend(f".env.example: {name} is not used by {self.rel}" for name in sorted(set(listed) - needed))
        problems.extend(
            f".env.example: {name} must be an obvious placeholder (containing {PLACEHOLDER!r})"
            for name, value in listed.items()
            if PLACEHOLDER not in value
        )
        return problems
