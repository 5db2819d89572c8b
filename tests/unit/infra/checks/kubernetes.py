"""infra/k8s: Deployments and CronJobs, their env (ConfigMaps, Secrets), probes, mounts; Services, PDBs, the
kustomization."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.unit.infra.checks.command import Resolver
from tests.unit.infra.checks.dockerfile import Dockerfile, image_target
from tests.unit.infra.checks.launch import (
    Launch,
    MountedFile,
    Probe,
    Report,
    check_launch,
)


def _labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class Kubernetes:
    def __init__(self, directory: Path, root: Path, dockerfile: Dockerfile) -> None:
        self.dir = directory
        self.root = root
        self.dockerfile = dockerfile
        self.docs: list[tuple[str, dict[str, Any]]] = []
        self.files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        for file in self.files:
            rel = file.relative_to(root).as_posix()
            self.docs += [(rel, d) for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if d]

    def objects(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(f, d) for f, d in self.docs if d.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((d for _, d in self.objects(kind) if d["metadata"]["name"] == name), None)

    def secret_keys(self, name: str | None = None) -> set[str]:
        keys: set[str] = set()
        for _, secret in self.objects("Secret"):
            if name is None or secret["metadata"]["name"] == name:
                keys |= set(secret.get("stringData") or {}) | set(secret.get("data") or {})
        return keys

    def check(self, resolve: Resolver) -> Report:
        report = Report()
        report.problems += self._check_kustomization()
        report.problems += self._check_namespaces()
        report.problems += self._check_configmaps()
        for rel, deployment in self.objects("Deployment"):
            report.launches += self._deployment_launches(rel, deployment, report.problems)
        for rel, cronjob in self.objects("CronJob"):
            report.launches += self._cronjob_launches(rel, cronjob, report.problems)
        for launch in report.launches:
            report.problems += check_launch(launch, resolve)
        report.problems += self._check_services()
        report.problems += self._check_pdbs()
        return report

    def _check_kustomization(self) -> list[str]:
        kustomizations = self.objects("Kustomization")
        if not kustomizations:
            return []
        rel, kustomization = kustomizations[0]
        listed = [str(r) for r in kustomization.get("resources") or []]
        problems = [f"{rel}: resource {r} does not exist" for r in listed if not (self.dir / r).exists()]
        manifests = {f.name for f in self.files} - {Path(rel).name}
        problems += [f"{rel}: {m} is not listed under resources" for m in sorted(manifests - set(listed))]
        namespace = kustomization.get("namespace")
        if namespace and self.named("Namespace", namespace) is None:
            problems.append(f"{rel}: namespace {namespace} is not created by any manifest")
        images = {str(i["name"]) for i in kustomization.get("images") or []}
        problems += [
            f"{rel}: images.{name} is not the image of any container" for name in sorted(images - self._images())
        ]
        return problems

    def _pods(self) -> list[dict[str, Any]]:
        """The pod specs of every Deployment and CronJob."""
        pods = [d["spec"]["template"]["spec"] for _, d in self.objects("Deployment")]
        return pods + [c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for _, c in self.objects("CronJob")]

    def _images(self) -> set[str]:
        return {str(container["image"]) for pod in self._pods() for container in pod.get("containers") or []}

    def _check_namespaces(self) -> list[str]:
        namespaces = {d["metadata"]["name"] for _, d in self.objects("Namespace")}
        problems = []
        for rel, doc in self.docs:
            if doc.get("kind") in ("Namespace", "Kustomization"):
                continue
            namespace = doc.get("metadata", {}).get("namespace")
            if namespace not in namespaces:
                problems.append(
                    f"{rel}: {doc['kind']} {doc['metadata']['name']} is in namespace {namespace}, not in {namespaces}"
                )
        return problems

    def _check_configmaps(self) -> list[str]:
        return [
            f"{rel}: ConfigMap {doc['metadata']['name']} key {key} must be a string (quote it)"
            for rel, doc in self.objects("ConfigMap")
            for key, value in (doc.get("data") or {}).items()
            if not isinstance(value, str)
        ]

    def _deployment_launches(self, rel: str, deployment: dict[str, Any], problems: list[str]) -> list[Launch]:
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels") or {}
        if not _labels_match(spec.get("selector", {}).get("matchLabels") or {}, labels):
            problems.append(f"{rel}: Deployment {name} selector does not match its pod labels")
        launches = []
        for container in pod.get("containers") or []:
            where = f"{rel} Deployment {name} container {container['name']}"
            launch = self._container_launch(container, pod, where, problems)
            if launch is None:
                continue
            launches.append(launch)
            self._check_replicas(launch, int(spec.get("replicas", 1)), where, problems)
        return launches

    def _cronjob_launches(self, rel: str, cronjob: dict[str, Any], problems: list[str]) -> list[Launch]:
        """A job runs and ends: no port, no probe; one run at a time, and a pod that is not restarted in place
        (a `podFailurePolicy` needs `Never`)."""
        name = cronjob["metadata"]["name"]
        spec = cronjob["spec"]
        job = spec["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        if spec.get("concurrencyPolicy") != "Forbid":
            problems.append(f"{rel}: CronJob {name} should set concurrencyPolicy: Forbid (runs would overlap)")
        if job.get("podFailurePolicy") and pod.get("restartPolicy") != "Never":
            problems.append(f"{rel}: CronJob {name} has a podFailurePolicy, which needs restartPolicy: Never")
        launches = []
        for container in pod.get("containers") or []:
            where = f"{rel} CronJob {name} container {container['name']}"
            launch = self._container_launch(container, pod, where, problems, serves=False)
            if launch is not None:
                launches.append(launch)
        return launches

    def _container_launch(
        self, container: dict[str, Any], pod: dict[str, Any], where: str, problems: list[str], *, serves: bool = True
    ) -> Launch | None:
        image_name = str(container.get("image", ""))
        target = image_target(image_name)
        if target is None or target not in self.dockerfile.stages:
            problems.append(f"{where}: image {image_name!r} is not a target of {self.dockerfile.rel}")
            return None
        image = self.dockerfile.image(target)
        if "command" in container:
            command = [str(c) for c in container["command"]]
            if command[:1] != ["mallbridge"]:
                problems.append(f"{where}: command {command} does not run mallbridge")
                return None
            argv = command[1:] + [str(a) for a in container.get("args") or []]
        else:
            argv = [str(a) for a in container["args"]] if "args" in container else list(image.cmd or [])
        launch = Launch(where=where, argv=argv, must_expose=serves)
        self._env(container, launch, problems)
        named_ports = {}
        for port in container.get("ports") or []:
            launch.ports.append(int(port["containerPort"]))
            if "name" in port:
                named_ports[port["name"]] = int(port["containerPort"])
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = (container.get(kind) or {}).get("httpGet")
            if get is None:
                continue
            port = get.get("port")
            resolved = named_ports.get(port) if isinstance(port, str) else int(port)
            if resolved is None:
                problems.append(f"{where} {kind}: port {port!r} is not a named containerPort")
            launch.probes.append(Probe(f"{where} {kind}", resolved, str(get.get("path", "/"))))
        if serves:
            self._check_probe_kinds(container, where, problems)
        resources = container.get("resources") or {}
        problems += [f"{where}: no resources.{k}" for k in ("requests", "limits") if not resources.get(k)]
        launch.files = self._mounts(container, pod, where, problems)
        return launch

    def _check_probe_kinds(self, container: dict[str, Any], where: str, problems: list[str]) -> None:
        """Readiness on /readyz (take it out of rotation), liveness on /healthz (restart it)."""
        for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            actual = ((container.get(kind) or {}).get("httpGet") or {}).get("path")
            if actual != path:
                problems.append(f"{where}: {kind} should GET {path}, not {actual}")

    def _env(self, container: dict[str, Any], launch: Launch, problems: list[str]) -> None:
        where = launch.where
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                name = source["configMapRef"]["name"]
                config = self.named("ConfigMap", name)
                if config is None:
                    problems.append(f"{where}: envFrom ConfigMap {name} is not defined")
                    continue
                launch.env.update({k: str(v) for k, v in (config.get("data") or {}).items()})
            if "secretRef" in source:
                name = source["secretRef"]["name"]
                if self.named("Secret", name) is None:
                    problems.append(f"{where}: envFrom Secret {name} is not defined")
                    continue
                for key in self.secret_keys(name):
                    launch.env[key] = ""
                    launch.secret_env.add(key)
        for item in container.get("env") or []:
            key, ref = item["name"], item.get("valueFrom") or {}
            if "value" in item:
                launch.env[key] = str(item["value"])
            elif "secretKeyRef" in ref:
                secret = ref["secretKeyRef"]
                if secret["key"] not in self.secret_keys(secret["name"]):
                    problems.append(f"{where}: env {key} needs Secret {secret['name']} key {secret['key']}")
                launch.env[key] = ""
                launch.secret_env.add(key)
            elif "configMapKeyRef" in ref:
                ref_cm = ref["configMapKeyRef"]
                data = (self.named("ConfigMap", ref_cm["name"]) or {}).get("data") or {}
                if ref_cm["key"] not in data:
                    problems.append(f"{where}: env {key} needs ConfigMap {ref_cm['name']} key {ref_cm['key']}")
                launch.env[key] = str(data.get(ref_cm["key"], ""))

    def _mounts(
        self, container: dict[str, Any], pod: dict[str, Any], where: str, problems: list[str]
    ) -> dict[str, MountedFile]:
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        files: dict[str, MountedFile] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"])
            if volume is None:
                problems.append(f"{where}: volumeMount {mount['name']} has no volume")
                continue
            read_only = bool(mount.get("readOnly"))
            base = str(mount["mountPath"]).rstrip("/")
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                config = self.named("ConfigMap", name)
                if config is None:
                    problems.append(f"{where}: volume {mount['name']} needs ConfigMap {name}, which is not defined")
                    continue
                data = config.get("data") or {}
                items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data:
                        problems.append(f"{where}: ConfigMap {name} has no key {item['key']}")
                        continue
                    text, label = str(data[item["key"]]), f"ConfigMap {name} key {item['key']}"
                    if "subPath" in mount:
                        if mount["subPath"] == item["path"]:
                            files[base] = MountedFile(label, text, read_only)
                    else:
                        files[f"{base}/{item['path']}"] = MountedFile(label, text, read_only)
            elif "secret" in volume:
                name = volume["secret"]["secretName"]
                keys = self.secret_keys(name)
                if not keys:
                    problems.append(f"{where}: volume {mount['name']} needs Secret {name}, which is not defined")
                files.update({f"{base}/{k}": MountedFile(f"Secret {name}", None, read_only) for k in keys})
        return files

    def _check_replicas(self, launch: Launch, replicas: int, where: str, problems: list[str]) -> None:
        """Publishers share partitions in one consumer group: replicas beyond the partition count sit idle.
        Ingest numbers each order's events from its own memory: one writer per tenant, so one replica."""
        if launch.argv[:1] == ["ingest"] and replicas > 1:
            problems.append(
                f"{where}: {replicas} ingest replicas would write the same tenants, each numbering an order's "
                "events from its own memory; run one per group of tenants"
            )
        if launch.argv[:1] != ["publisher"]:
            return
        partitions = launch.env.get("MALLBRIDGE_PARTITIONS")
        if partitions is not None and partitions.isdigit() and replicas > int(partitions):
            problems.append(f"{where}: {replicas} replicas but {partitions} partitions; extra publishers sit idle")

    def _pod_ports(self, selector: Mapping[str, str]) -> list[tuple[str, dict[str, int], list[int]]]:
        matched = []
        for _, deployment in self.objects("Deployment"):
            labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
            if _labels_match(selector, labels):
                named: dict[str, int] = {}
                numbers: list[int] = []
                for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                    for port in container.get("ports") or []:
                        numbers.append(int(port["containerPort"]))
                        if "name" in port:
                            named[port["name"]] = int(port["containerPort"])
                matched.append((deployment["metadata"]["name"], named, numbers))
        return matched

    def _check_services(self) -> list[str]:
        problems = []
        for rel, service in self.objects("Service"):
            where = f"{rel} Service {service['metadata']['name']}"
            pods = self._pod_ports(service["spec"].get("selector") or {})
            if not pods:
                problems.append(f"{where}: selector matches no Deployment")
            for port in service["spec"].get("ports") or []:
                target = port.get("targetPort", port["port"])
                for name, named, numbers in pods:
                    ok = target in named if isinstance(target, str) else int(target) in numbers
                    if not ok:
                        problems.append(f"{where}: targetPort {target} is not a containerPort of Deployment {name}")
        return problems

    def _check_pdbs(self) -> list[str]:
        problems = []
        for rel, pdb in self.objects("PodDisruptionBudget"):
            where = f"{rel} PodDisruptionBudget {pdb['metadata']['name']}"
            selector = pdb["spec"].get("selector", {}).get("matchLabels") or {}
            deployments = [
                d
                for _, d in self.objects("Deployment")
                if _labels_match(selector, d["spec"]["template"]["metadata"].get("labels") or {})
            ]
            if not deployments:
                problems.append(f"{where}: selector matches no Deployment")
            minimum = pdb["spec"].get("minAvailable")
            for deployment in deployments:
                if isinstance(minimum, int) and minimum >= int(deployment["spec"].get("replicas", 1)):
                    problems.append(
                        f"{where}: minAvailable {minimum} blocks every drain of {deployment['metadata']['name']}"
                    )
        return problems
