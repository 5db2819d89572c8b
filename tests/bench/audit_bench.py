"""The audit's replay throughput against a raw aiokafka consumer, and its peak memory per order.

Data: ≥ 1,000,000 realistic events of both topics (one tenant, ~90,000 orders over 30 days): order events
as ingest writes them, and the sync events a correct publisher writes for them, produced here by the
real projection and reconciler (so `--verify` is clean on it): ~80% ship with tracking and are
delivered (some entered late), ~10% MALL Delivery, ~1.2% cancelled, ~3% shipped first without
tracking (deferred), ~0.5% refused by MALL (attention), the rest still in process. Written through the
EventLog port in batches of 20,000.

Measured in the same run, on the same topics, the replays in three rounds of (raw, audit in one process,
audit with its workers, audit --verify with its workers), each goal's figure the mean over the rounds (as
import's: other load on the machine drifts within a minute, and a round keeps the readers close in time):
- raw: one aiokafka consumer, manual assignment of every partition of both topics, from offset 0 to
  the end offsets, touching each value (no decoding): the ceiling for any Python reader;
- audit: `run_audit` (the code behind `mallbridge audit`) with the default report, events/s and the
  ratio to raw (goals ≥ 0.7, one process ≥ 0.5): automatic workers (one process per CPU over disjoint partitions, see
  mallbridge_audit/parallel.py), and the same in one process;
- audit --verify: events/s (full schema decoding and the reconciler per PUT; goal ≥ 100,000/s);
- memory: a second audit run under tracemalloc: the peak of Python allocations during the replay and
  the report, and what the per-order state retains, each divided by the number of orders (goal < 1 KiB).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
import statistics
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from mallbridge_audit.cli import run_audit
from mallbridge_audit.reader import read_log, take_end_offsets
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_core.domain.projection import OrderState, apply
from mallbridge_core.domain.reconciler import plan
from mallbridge_core.eventlog import EventLog, OutgoingRecord, open_event_log
from mallbridge_core.settings import CommonOptions
from mallbridge_core.topics import Topics
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    ObservationSource,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus
from tests.bench.goals import goal

TARGET_EVENTS = int(os.environ.get("MALLBRIDGE_BENCH_AUDIT_EVENTS", "1000000"))
CHUNK_ORDERS = 2_000
APPEND_BATCH = 20_000
PARTITIONS = 6
ROUNDS = 3  # raw, one process, default workers, in turn: the means damp drift from other load
TENANT = "bench"
START = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
_F = FastCentrikStatus


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> uuid.UUID:
        self.n += 1
        return uuid.UUID(int=(0xB3 << 120) | self.n)


class Simulation:
    """One order's life: FastCentrik facts, and after each a correct publisher's reaction."""

    def __init__(self, ids: _Ids, rnd: random.Random, number: int) -> None:
        self.ids, self.rnd = ids, rnd
        self.number = f"FC-{number:07d}"
        self.mall_id = str(10_000_000_000 + number)
        self.state: OrderState | None = None
        self.order_events: list[OrderEventBase] = []
        self.sync_events: list[Event] = []
        self.request_no = 0
        self.refuse_next_shipping = False

    def _env(self, occurred: datetime, recorded: datetime) -> dict[str, Any]:
        return {
            "event_id": self.ids.next(),
            "tenant_id": TENANT,
            "order_number": self.number,
            "mall_order_id": self.mall_id,
            "occurred_at": occurred,
            "recorded_at": recorded,
        }

    def fact(self, at: datetime, kind: type[OrderEventBase], **fields: Any) -> None:
        seq = len(self.order_events) + 1
        event = kind(**self._env(at, at + timedelta(seconds=1)), seq=seq, **fields)
        self.order_events.append(event)
        self.state = apply(self.state, event)

    def _sync(self, event: Event) -> None:
        self.sync_events.append(event)
        self.state = apply(self.state, event)

    def _read(self, at: datetime, source: ObservationSource, request_no: int) -> None:
        assert self.state is not None
        mall = self.state.mall
        self._sync(
            MallStateObserved(
                **self._env(at, at),
                based_on_seq=self.state.fc.seq,
                request_no=request_no,
                source=source,
                status=mall.status,
                confirmed=mall.confirmed,
                tracking_number=mall.tracking_number,
                tracking_url=mall.tracking_url,
                delivered_at=mall.delivered_at,
            )
        )

    def publish(self, at: datetime) -> None:
        """What a correct publisher does once it has read the latest fact."""
        assert self.state is not None
        t = at + timedelta(seconds=self.rnd.uniform(2, 90))
        seq = self.state.fc.seq
        for _ in range(4):
            p = plan(self.state, now=t)
            if p.read is not None:  # a refusal is read back once, to learn why (MALL still has what it had)
                self._read(t, p.read.source, p.read.request_no)
                t += timedelta(milliseconds=self.rnd.uniform(30, 200))
                continue
            code = self.state.mall.attention_code
            if code and (p.attention is None or p.attention.code != code):
                self._sync(AttentionResolved(**self._env(t, t), based_on_seq=seq, code=code))
            if p.steps:
                step = p.steps[0]
                self.request_no += 1
                no = self.request_no
                self._sync(
                    MallUpdateRequested(
                        **self._env(t, t), based_on_seq=seq, request_no=no, status=step.status, request=step.body
                    )
                )
                answered = t + timedelta(milliseconds=self.rnd.uniform(80, 900))
                if step.status is MallStatus.SHIPPING and self.refuse_next_shipping:
                    self.refuse_next_shipping = False
                    self._sync(
                        MallUpdateRejected(
                            **self._env(answered, answered),
                            based_on_seq=seq,
                            request_no=no,
                            status=step.status,
                            request=step.body,
                            http_status=400,
                            response={"result": {"code": 400, "status": "ERROR", "message": "Invalid transition"}},
                            message="Invalid transition",
                        )
                    )
                else:
                    self._sync(
                        MallStatusUpdated(
                            **self._env(answered, answered),
                            based_on_seq=seq,
                            request_no=no,
                            status=step.status,
                            request=step.body,
                            http_status=200,
                            latency_ms=(answered - t).total_seconds() * 1000,
                        )
                    )
                t = answered + timedelta(milliseconds=50)
                continue
            deferral = p.deferral
            recorded = self.state.mall.deferral
            if deferral is not None and (recorded is None or recorded.reason != deferral.reason):
                self._sync(
                    StepDeferred(
                        **self._env(t, t),
                        based_on_seq=seq,
                        status=deferral.status,
                        reason=deferral.reason,
                        until=deferral.until,
                    )
                )
            if p.attention is not None and self.state.mall.attention_code != p.attention.code:
                self._sync(
                    AttentionNeeded(
                        **self._env(t, t), based_on_seq=seq, code=p.attention.code, reason=p.attention.reason
                    )
                )
            return


def simulate(ids: _Ids, rnd: random.Random, number: int) -> Simulation:
    sim = Simulation(ids, rnd, number)
    hours = timedelta(hours=1)
    t = START + timedelta(seconds=rnd.uniform(0, 30 * 86400))
    roll = rnd.random()
    mdp = 0.80 <= roll < 0.90
    sim.fact(t, OrderFirstSeen, status=_F.PENDING, status_label="nevyřízená", mdp=mdp)
    sim.publish(t)
    if roll >= 0.988:  # cancelled by the merchant before shipping
        t += rnd.uniform(1, 20) * hours
        sim.fact(t, OrderStatusChanged, from_status=_F.PENDING, to_status=_F.CANCELLED, status_label="stornovaná")
        sim.publish(t)
        return sim
    sim.refuse_next_shipping = 0.983 <= roll < 0.988
    t += rnd.uniform(0.5, 8) * hours
    sim.fact(t, OrderStatusChanged, from_status=_F.PENDING, to_status=_F.IN_PROCESS, status_label="vyřizuje se")
    sim.publish(t)
    if 0.93 <= roll < 0.988:  # still being picked (and, for the refused ones, waiting on a human)
        return sim
    t += rnd.uniform(2, 30) * hours
    sim.fact(t, OrderStatusChanged, from_status=_F.IN_PROCESS, to_status=_F.SETTLED, status_label="vyřízená")
    number_ = f"TRK{number:09d}"
    if 0.90 <= roll < 0.93:  # shipped before the tracking was typed in: deferred, then sent
        sim.publish(t)
        t += rnd.uniform(1, 6) * hours
    if not mdp:
        sim.fact(t, TrackingAssigned, tracking_number=number_, tracking_url=f"https://t.example/{number_}")
    sim.publish(t)
    carrier = t + rnd.uniform(18, 60) * hours
    late = rnd.random() < 0.08
    entered = carrier + (rnd.uniform(26, 72) if late else rnd.uniform(0.2, 6)) * hours
    sim.fact(entered, DeliveryDateSet, delivered_at=carrier.isoformat(timespec="seconds"))
    sim.publish(entered)
    return sim


async def write_events(log: EventLog, topics: Topics, target: int) -> tuple[int, int]:
    """Simulate orders until `target` events are written; returns (events, orders)."""
    rnd = random.Random(20261126)
    ids = _Ids()
    await log.ensure_topics([topics.order_events, topics.sync_events])
    written = orders = 0
    pending: dict[str, list[OutgoingRecord]] = {topics.order_events: [], topics.sync_events: []}

    async def flush(topic: str, force: bool) -> None:
        batch = pending[topic]
        while len(batch) >= APPEND_BATCH or (force and batch):
            head, batch = batch[:APPEND_BATCH], batch[APPEND_BATCH:]
            await log.append(topic, head)
        pending[topic] = batch

    while written < target:
        for _ in range(CHUNK_ORDERS):
            sim = simulate(ids, rnd, orders + 1)
            orders += 1
            key = event_key(TENANT, sim.number)
            pending[topics.order_events].extend(OutgoingRecord(key, encode_event(e)) for e in sim.order_events)
            pending[topics.sync_events].extend(OutgoingRecord(key, encode_event(e)) for e in sim.sync_events)
            written += len(sim.order_events) + len(sim.sync_events)
        for topic in pending:
            await flush(topic, force=False)
    for topic in pending:
        await flush(topic, force=True)
    return written, orders


async def raw_read(bootstrap: str, topics: list[str]) -> tuple[int, float]:
    """Every record of the topics with a bare aiokafka consumer: (records, seconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, 0)  # explicit: seek_to_beginning can lose a race with the initial "latest" reset
        todo = {tp for tp in tps if ends[tp] > 0}
        count = size = 0
        started = time.perf_counter()
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=500, max_records=5000)
            for tp, msgs in batch.items():
                count += len(msgs)
                size += sum(len(m.value or b"") for m in msgs)
                if msgs and msgs[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


async def audit_read(
    url: str, prefix: str, *, verify: bool, workers: int | None = None
) -> tuple[int, float, dict[str, Any]]:
    common = CommonOptions(log_url=url, tenants_path=None, topic_prefix=prefix, partitions=PARTITIONS)
    started = time.perf_counter()
    report, meta = await run_audit(
        common,
        [common.topics()],
        Scope(),
        verify=verify,
        as_of=None,
        grace_s=600,
        show_progress=False,
        orders="flagged",  # what the default (table) report builds
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    tenant = report.tenants[0]
    figures = {
        "orders": tenant.orders,
        "cancel_rate": round(tenant.cancel_rate or 0, 4),
        "tracking_rate": round(tenant.tracking_rate or 0, 4),
        "on_time_rate": round(tenant.on_time_rate or 0, 4),
        "open_attention": tenant.open_attention,
        "orders_deferred": tenant.orders_deferred,
        "workers": meta["workers"],
    }
    if report.verify is not None:
        figures["verify_clean"] = report.verify.clean
        figures["verify_differences"] = len(report.verify.differences)
        figures["verify_puts_checked"] = report.verify.puts_checked
    return report.order_events + report.sync_events, elapsed, figures


async def _replay_round(bootstrap: str, url: str, prefix: str, topics: Topics) -> dict[str, Any]:
    """One round: the raw consumer, the audit in one process, the audit with its default workers, and
    `--verify` with them."""
    raw_n, raw_s = await raw_read(bootstrap, [topics.order_events, topics.sync_events])
    one_n, one_s, one_figures = await audit_read(url, prefix, verify=False, workers=1)
    audit_n, audit_s, figures = await audit_read(url, prefix, verify=False)
    verify_n, verify_s, verify_figures = await audit_read(url, prefix, verify=True)
    return {
        "raw": raw_n / raw_s,
        "one": one_n / one_s,
        "audit": audit_n / audit_s,
        "verify": verify_n / verify_s,
        "raw_n": raw_n,
        "one_n": one_n,
        "audit_n": audit_n,
        "verify_n": verify_n,
        "figures": figures,
        "one_figures": one_figures,
        "verify_figures": verify_figures,
    }


async def audit_memory(url: str, prefix: str) -> dict[str, Any]:
    """Peak traced Python memory of the default audit (table output: flagged orders listed), of the
    all-orders report (`--format json`), and what the per-order state keeps."""
    default = await _traced_audit(url, prefix, listed="flagged")
    every = await _traced_audit(url, prefix, listed="all")
    orders = default["orders"]
    return {
        "orders": orders,
        "peak_bytes": default["peak"],
        "peak_bytes_per_order": round(default["peak"] / orders),
        "peak_bytes_per_order_all_orders_listed": round(every["peak"] / orders),
        "state_bytes_per_order": round(default["retained"] / orders),
    }


async def _traced_audit(url: str, prefix: str, *, listed: str) -> dict[str, int]:
    log = open_event_log(url, partitions=PARTITIONS)
    await log.start()
    try:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        plan_ = await take_end_offsets(log, [Topics(prefix=prefix)])
        builder = ReportBuilder(Scope())
        await read_log(log, plan_, builder)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
        report = builder.finish(as_of=datetime.now(UTC), orders=listed)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return {"orders": sum(t.orders for t in report.tenants), "peak": peak, "retained": retained}
    finally:
        await log.close()


async def run(bootstrap: str) -> dict[str, Any]:
    url = f"kafka://{bootstrap}"
    prefix = f"bench-audit-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix=prefix)
    log = open_event_log(url, partitions=PARTITIONS)
    await log.start()
    try:
        started = time.perf_counter()
        events, orders = await write_events(log, topics, TARGET_EVENTS)
        write_s = time.perf_counter() - started
    finally:
        await log.close()

    await asyncio.sleep(5)  # let the broker finish flushing the writes: every reader below gets the same log
    rounds = [await _replay_round(bootstrap, url, prefix, topics) for _ in range(ROUNDS)]
    first = rounds[0]
    figures, one_figures = first["figures"], first["one_figures"]
    for r in rounds:
        assert r["raw_n"] == r["audit_n"] == r["one_n"] == events, (r, events)
        assert r["figures"] == figures, (r["figures"], figures)
        assert r["one_figures"] == one_figures, (r["one_figures"], one_figures)
        assert r["verify_n"] == events, (r["verify_n"], events)
        assert r["verify_figures"] == first["verify_figures"], (r["verify_figures"], first["verify_figures"])
    assert {k: v for k, v in figures.items() if k != "workers"} == {
        k: v for k, v in one_figures.items() if k != "workers"
    }, (figures, one_figures)

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rounds)

    raw_rate, audit_rate, one_rate, verify_rate = mean("raw"), mean("audit"), mean("one"), mean("verify")
    worker_rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    verify_figures = first["verify_figures"]
    memory = await audit_memory(url, prefix)
    goals = [
        goal(
            f"audit replay, {figures['workers']} workers vs a raw consumer",
            audit_rate,
            raw_rate,
            at_least=0.7,
            unit="events/s",
        ),
        goal("audit replay, one process vs a raw consumer", one_rate, raw_rate, at_least=0.5, unit="events/s"),
        goal("audit --verify", verify_rate, at_least=100_000, unit="events/s"),
    ]
    return {
        "goals": goals,
        "events": events,
        "orders": orders,
        "write_s": round(write_s, 1),
        "raw_events_per_s": round(raw_rate),
        "audit_events_per_s": round(audit_rate),
        "audit_workers": figures["workers"],
        "audit_vs_raw": round(audit_rate / raw_rate, 3),
        "rounds": ROUNDS,
        "per_round_ratio": [round(r["audit"] / r["raw"], 3) for r in rounds],
        "per_round_one_process_ratio": [round(r["one"] / r["raw"], 3) for r in rounds],
        "audit_one_process_events_per_s": round(one_rate),
        "audit_one_process_vs_raw": round(one_rate / raw_rate, 3),
        "audit_worker_peak_rss_mib": round(worker_rss_kib / 1024, 1),
        "verify_events_per_s": round(verify_rate),
        "verify_vs_raw": round(verify_rate / raw_rate, 3),
        "per_round_verify_events_per_s": [round(r["verify"]) for r in rounds],
        "report": figures,
        "verify": {k: v for k, v in verify_figures.items() if k.startswith("verify")},
        "memory": {**memory, "goal_bytes_per_order": 1024},
    }


if __name__ == "__main__":
    import json
    import os
    import sys

    print(json.dumps(asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else os.environ["MALLBRIDGE_KAFKA"])), indent=2))
