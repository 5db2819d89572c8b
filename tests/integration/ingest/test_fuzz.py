"""Fuzzing the push API against its own OpenAPI, on a real server and a real log (schemathesis + hypothesis).

Cases come from the server's `/openapi.json`: schema-conforming ones (signed with the tenant's secret, so
they reach validation and the log), schema-violating ones (signed too: the body is what is wrong), the
generated headers as they come (unsigned) to the tenant, and schema-violating ones to any tenant id.
For every answer: no 5xx, status code, content type, headers and body as documented. And the log's
records are counted: on the embedded log around each request (a refused request, anything but 202,
wrote nothing; an accepted one exactly the events it reports), on Kafka before and after the run (the
records written are exactly the events the accepted answers report: reading Kafka's end offsets from
the test's loop between requests costs more than a case).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mallbridge_core.eventlog import open_event_log
from mallbridge_ingest.adapters.signature import sign
from mallbridge_ingest.config import IngestSettings
from tests.integration.ingest.support import SECRET, IngestServer, order_topic, tenant

PUSH = "/v1/tenants/{tenant_id}/orders"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Cases per kind on the embedded log (120 in all); on Kafka a quarter of them, at least 5 per kind (32: the
# log's side of the check is the same code, and generating a case, not sending it, is most of the time:
# ~0.1 s each on 2 busy cores). Every run draws new cases, so the runs together go deeper than any one.
EXAMPLES = {"signed": 50, "signed_invalid": 40, "unsigned": 15, "unsigned_anywhere": 15}
KAFKA_SHARE = 4
MIN_PER_KIND = 5


def raw_body(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


class Fuzzer:
    """Sends generated cases from a worker thread while the server runs on the test's event loop."""

    def __init__(self, server: IngestServer, records: Callable[[], int], *, per_case: bool) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        self.records = records
        self.per_case = per_case
        self.cases = 0
        self.codes: dict[int, int] = {}
        self.accepted_events = 0

    def send(self, case: schemathesis.Case, *, signed: bool) -> None:
        body = raw_body(case.body) if case.body is not None else b""
        headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
        headers["Content-Type"] = "application/json"
        if signed:
            ts = str(int(time.time()))
            headers["X-Mallbridge-Timestamp"] = ts
            headers["X-Mallbridge-Signature"] = sign(SECRET, ts, body)
        before = self.records() if self.per_case else 0
        response = self.http.post(case.formatted_path, content=body, headers=headers)
        after = self.records() if self.per_case else 0
        self.cases += 1
        self.codes[response.status_code] = self.codes.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code == 202:
            answer = response.json()
            reported = 0 if answer.get("replayed") else answer["events"]
            assert not self.per_case or after - before == reported, answer
            self.accepted_events += reported
        else:
            assert after == before, f"{response.status_code} {response.text[:300]} wrote {after - before} record(s)"

    def run(self, spec: dict[str, Any], share: int) -> None:
        operation = schemathesis.openapi.from_dict(spec)[PUSH]["POST"]
        to_acme = {"tenant_id": "acme"}
        strategies = {
            "signed": operation.as_strategy(path_parameters=to_acme),
            "signed_invalid": operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=to_acme),
            "unsigned": operation.as_strategy(path_parameters=to_acme),
            "unsigned_anywhere": operation.as_strategy(GenerationMode.NEGATIVE),
        }
        for name, strategy in strategies.items():
            signed = name.startswith("signed")

            @settings(
                max_examples=max(MIN_PER_KIND, EXAMPLES[name] // share),
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                print_blob=True,  # new cases every run; a failure prints how to reproduce it
            )
            @given(case=strategy, signed=st.just(signed))
            def run_one(case: schemathesis.Case, signed: bool) -> None:
                self.send(case, signed=signed)

            run_one()


async def test_the_push_api_holds_its_schema_and_writes_nothing_it_refuses(
    event_log_url: str, topic_prefix: str
) -> None:
    tenants = {"acme": tenant("acme"), "other": tenant("other")}
    settings_ = IngestSettings(push_rate_per_s=0)  # the fuzz goes deep; the rate limit has tests of its own
    topics = [order_topic(topic_prefix)]
    async with IngestServer(
        log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix, settings=settings_
    ) as srv:
        reader = open_event_log(event_log_url)
        await reader.start()
        loop = asyncio.get_running_loop()

        async def count() -> int:
            total = 0
            for topic in topics:
                total += sum((await reader.end_offsets(topic)).values())
            return total

        def records() -> int:
            return asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=30)

        try:
            spec = (await srv.client.get("/openapi.json")).json()
            kafka = event_log_url.startswith("kafka")
            fuzzer = Fuzzer(srv, records, per_case=not kafka)
            before = await count()
            started = time.perf_counter()
            try:
                await asyncio.to_thread(fuzzer.run, spec, KAFKA_SHARE if kafka else 1)
            finally:
                fuzzer.http.close()
            elapsed = time.perf_counter() - started
            assert await count() - before == fuzzer.accepted_events
        finally:
            await reader.close()
    print(f"\npush API fuzz ({event_log_url.split(':')[0]}): {fuzzer.cases} cases in {elapsed:.1f} s, {fuzzer.codes}")
    assert fuzzer.cases >= 25
    assert fuzzer.codes.get(202, 0) > 0, "no generated push was accepted: the fuzz never reached the log"
    assert min(fuzzer.codes.get(401, 0), fuzzer.codes.get(404, 0), fuzzer.codes.get(422, 0)) > 0
    assert fuzzer.accepted_events > 0
