"""The example tenants files against what provides their secrets, and the whole project in one call."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.unit.infra.checks.command import Resolver, real_resolver
from tests.unit.infra.checks.compose import Compose
from tests.unit.infra.checks.dockerfile import Dockerfile
from tests.unit.infra.checks.kubernetes import Kubernetes
from tests.unit.infra.checks.launch import (
    SECRET_REF,
    Report,
    check_tenants_text,
    secret_refs,
)


def env_refs(text: str) -> set[str]:
    return {name for kind, name in secret_refs(tomllib.loads(text)) if kind == "env"}


def check_examples(root: Path, kubernetes: Kubernetes) -> list[str]:
    examples = root / "infra" / "examples"
    production, compose = examples / "tenants.toml", examples / "tenants.compose.toml"
    problems = [f"{p.relative_to(root)} does not exist" for p in (production, compose) if not p.is_file()]
    if problems:
        return problems
    prod_text, compose_text = production.read_text(encoding="utf-8"), compose.read_text(encoding="utf-8")
    for path, text in ((production, prod_text), (compose, compose_text)):
        rel = path.relative_to(root).as_posix()
        problems += check_tenants_text(text, rel)
        inline = [f"{rel}: [tenants.{t}] {k} is inline; use env:NAME or file:/path" for t, k in _inline_secrets(text)]
        problems += inline
    secret_keys = kubernetes.secret_keys()
    problems += [
        f"infra/examples/tenants.toml needs env {name}, which no k8s Secret provides"
        for name in sorted(env_refs(prod_text) - secret_keys)
    ]
    prod, comp = tomllib.loads(prod_text)["tenants"], tomllib.loads(compose_text)["tenants"]
    if set(prod) != set(comp):
        problems.append(f"tenants.compose.toml has tenants {sorted(comp)}, tenants.toml {sorted(prod)}")
    for tenant in set(prod) & set(comp):
        if set(secret_refs(prod[tenant])) != set(secret_refs(comp[tenant])):
            problems.append(f"tenants.compose.toml [tenants.{tenant}] references other secrets than tenants.toml")
    configs = [d for _, d in kubernetes.objects("ConfigMap") if "tenants.toml" in (d.get("data") or {})]
    for config in configs:
        if tomllib.loads(config["data"]["tenants.toml"]) != tomllib.loads(prod_text):
            problems.append(
                f"ConfigMap {config['metadata']['name']} tenants.toml differs from infra/examples/tenants.toml"
            )
    return problems


def _inline_secrets(text: str) -> Iterator[tuple[str, str]]:
    for tenant, table in (tomllib.loads(text).get("tenants") or {}).items():
        for key in ("mall_client_id", "ingest_secret", "export_url"):
            if key in table and not SECRET_REF.match(str(table[key])):
                yield tenant, key


@dataclass
class Project:
    dockerfile: Report
    compose: Report
    kubernetes: Report
    examples: list[str]

    @property
    def problems(self) -> list[str]:
        return self.dockerfile.problems + self.compose.problems + self.kubernetes.problems + self.examples


def check_project(root: Path, resolve: Resolver | None = None) -> Project:
    resolve = resolve or real_resolver()
    dockerfile = Dockerfile(root / "infra" / "docker" / "Dockerfile", root)
    kubernetes = Kubernetes(root / "infra" / "k8s", root, dockerfile)
    return Project(
        dockerfile=dockerfile.check(resolve),
        compose=Compose(root / "docker-compose.yml", root).check(resolve),
        kubernetes=kubernetes.check(resolve),
        examples=check_examples(root, kubernetes),
    )
