"""`mallbridge log export` / `mallbridge log import`: move an event log between engines (issue 8).

A merchant who outgrows one machine exports the embedded log and imports it into Kafka (or back),
keeping the audit trail: every record keeps its key, value and header bytes, so event ids and
everything else inside the events are unchanged.

The file is JSON Lines, one record per line, per topic in log order (per partition in offset order):

    {"topic": "order-events.v1", "partition": 0, "offset": 12, "timestamp_ms": 1764150000000,
     "key": "acme:1001", "value": "{\"type\": ...}", "headers": [{"key": "origin", "value": "..."}]}

`topic` has no prefix (so a log can move to another prefix); lane topics keep their lane part
(`lane-acme.order-events.v1`). `key`, `value` and header values are UTF-8 text when the bytes are
UTF-8, otherwise `key_b64` / `value_b64` carry them base64-encoded; a record without a key (a dead letter
of one) has `"key": null`. `partition`, `offset` and `timestamp_ms` are the source's, for reference: on
import the target assigns its own (Kafka partitions by key, so per-key order is kept; the embedded log
has one partition per topic).

Import checks the whole file before it writes anything, and refuses to write into topics that already
hold records unless `--into-nonempty` is given (a second import would duplicate every event).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click

from mallbridge_core.eventlog import EventLog, LogRecord, LogUnavailableError, OutgoingRecord, open_event_log
from mallbridge_core.settings import CommonOptions, common_options
from mallbridge_schema.serde import (
    DEAD_LETTER_TOPIC,
    NOTIFY_ALERTS_TOPIC,
    OPERATOR_EVENTS_TOPIC,
    ORDER_EVENTS_TOPIC,
    SYNC_EVENTS_TOPIC,
)

# every topic mallbridge writes: an export without one of them would lose that part of the audit trail
BASE_TOPICS = (ORDER_EVENTS_TOPIC, SYNC_EVENTS_TOPIC, OPERATOR_EVENTS_TOPIC, DEAD_LETTER_TOPIC)
# ... and the notifier's ledger (one for all lanes): without it, `mallbridge notify` on the target log would
# send every attention item of the last MALLBRIDGE_NOTIFY_MAX_AGE_S again
_MALLBRIDGE_TOPIC = re.compile(
    r"(?:(?:lane-[^.]+\.)?(?:"
    + "|".join(re.escape(t) for t in BASE_TOPICS)
    + r")|"
    + re.escape(NOTIFY_ALERTS_TOPIC)
    + ")"
)
IMPORT_CHUNK = 1000


class LogFileError(ValueError):
    """A line of an export file that cannot be imported; says which line and why."""


# ---- the line format -----------------------------------------------------------------------------------


def _put_bytes(line: dict[str, Any], name: str, data: bytes | None) -> None:
    if data is None:
        line[name] = None
        return
    try:
        line[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        line[f"{name}_b64"] = base64.b64encode(data).decode("ascii")


def _get_bytes(line: dict[str, Any], name: str) -> bytes | None:
    if f"{name}_b64" in line:
        encoded = line[f"{name}_b64"]
        if not isinstance(encoded, str):
            raise ValueError(f"{name}_b64 must be a base64 string")
        return base64.b64decode(encoded, validate=True)
    text = line.get(name)
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a string")
    return text.encode("utf-8")


def record_to_line(record: LogRecord, topic: str) -> dict[str, Any]:
    """One exported line for `record`; `topic` is its name without the prefix."""
    line: dict[str, Any] = {
        "topic": topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
    }
    _put_bytes(line, "key", record.key)
    _put_bytes(line, "value", record.value)
    headers: list[dict[str, Any]] = []
    for key, value in record.headers:
        header: dict[str, Any] = {"key": key}
        _put_bytes(header, "value", value)
        headers.append(header)
    line["headers"] = headers
    return line


@dataclass(frozen=True)
class ImportedRecord:
    topic: str  # without prefix
    record: OutgoingRecord


def line_to_record(text: str, number: int) -> ImportedRecord:
    """Parse line `number` (1-based) of an export file; LogFileError names the line and the problem."""
    try:
        line = json.loads(text)
        if not isinstance(line, dict):
            raise ValueError("not a JSON object")
        topic = line.get("topic")
        if not isinstance(topic, str) or not topic:
            raise ValueError("topic missing")
        key = _get_bytes(line, "key")  # None: a record without a key (a dead letter of one), kept as it is
        value = _get_bytes(line, "value")
        if value is None:
            raise ValueError("value missing")
        headers: list[tuple[str, bytes]] = []
        for header in line.get("headers") or ():
            if not isinstance(header, dict) or not isinstance(header.get("key"), str):
                raise ValueError("headers must be objects with a string key")
            header_value = _get_bytes(header, "value")
            headers.append((header["key"], header_value if header_value is not None else b""))
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError and binascii.Error are ValueErrors
        raise LogFileError(f"line {number}: {exc}") from exc
    return ImportedRecord(topic, OutgoingRecord(key=key, value=value, headers=tuple(headers)))


# ---- export --------------------------------------------------------------------------------------------


async def discover_topics(log: EventLog, prefix: str) -> list[str]:
    """The mallbridge topics under `prefix` (lanes included), without the prefix, sorted."""
    list_topics = getattr(log, "list_topics", None)
    if list_topics is None:
        raise click.ClickException(f"{log.url} cannot list its topics; name them with --topic")
    names: list[str] = await list_topics()
    found = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    return sorted(t for t in found if _MALLBRIDGE_TOPIC.fullmatch(t))


async def export_log(log: EventLog, prefix: str, topics: Sequence[str], out: TextIO) -> dict[str, int]:
    """Write every record of `topics` (without prefix) to `out`; returns the count per topic."""
    counts: dict[str, int] = {}
    for topic in topics:
        counts[topic] = 0
        async for batch in log.replay(f"{prefix}{topic}"):
            out.writelines(json.dumps(record_to_line(r, topic), ensure_ascii=False) + "\n" for r in batch)
            counts[topic] += len(batch)
    return counts


# ---- import --------------------------------------------------------------------------------------------


def read_export(path: Path) -> Iterator[ImportedRecord]:
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if text.strip():
                yield line_to_record(text, number)


def _chunks(records: Iterator[ImportedRecord]) -> Iterator[tuple[str, list[OutgoingRecord]]]:
    """Consecutive records of one topic, up to IMPORT_CHUNK at a time, in file order."""
    topic: str | None = None
    chunk: list[OutgoingRecord] = []
    for item in records:
        if (item.topic != topic or len(chunk) >= IMPORT_CHUNK) and chunk:
            assert topic is not None
            yield topic, chunk
            chunk = []
        topic = item.topic
        chunk.append(item.record)
    if chunk and topic is not None:
        yield topic, chunk


async def import_log(log: EventLog, prefix: str, path: Path, *, into_nonempty: bool = False) -> dict[str, int]:
    """Append every record of the export file at `path` under `prefix`, in file order."""
    counts: dict[str, int] = {}
    for item in read_export(path):  # the whole file is checked before anything is written
        counts[item.topic] = counts.get(item.topic, 0) + 1
    targets = [f"{prefix}{t}" for t in counts]
    if not into_nonempty:
        for target in targets:
            if sum((await log.end_offsets(target)).values()):
                raise click.ClickException(
                    f"{target} already holds records in {log.url}; importing again would duplicate events "
                    "(use --into-nonempty to append anyway)"
                )
    await log.ensure_topics(targets)
    written = 0
    for topic, chunk in _chunks(read_export(path)):
        try:
            await log.append(f"{prefix}{topic}", chunk)
        except LogUnavailableError as exc:
            raise LogUnavailableError(
                f"{exc}; the first {written} records of {path} were imported, the rest not"
            ) from exc
        written += len(chunk)
    return counts


# ---- the commands --------------------------------------------------------------------------------------


def _summary(verb: str, counts: dict[str, int], where: str) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{topic} {n}" for topic, n in counts.items()) or "no topics"
    return f"{verb} {total} records ({parts}) {where}"


@click.group(name="log")
def log() -> None:
    """Move an event log between engines (export to JSON Lines, import from it); event ids are kept."""


@log.command(name="export")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="Topic to export, without the prefix (repeatable). Default: every mallbridge topic under the "
    "prefix, lane topics included.",
)
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True))
@common_options  # innermost: it wraps the function, so the options above must be added after it
def export_command(common: CommonOptions, topics: tuple[str, ...], out: str) -> None:
    """Write every record of the log's topics to OUT (JSON Lines; `-` for stdout)."""

    async def run(handle: TextIO) -> dict[str, int]:
        source = open_event_log(common.log_url, partitions=common.partitions)
        await source.start()
        try:
            chosen = list(topics) or await discover_topics(source, common.topic_prefix)
            return await export_log(source, common.topic_prefix, chosen, handle)
        finally:
            await source.close()

    try:
        if out == "-":
            counts = asyncio.run(run(sys.stdout))
        else:
            # Written aside and renamed at the end: a failed export never leaves a file that looks complete.
            partial = Path(f"{out}.partial")
            try:
                with partial.open("w", encoding="utf-8") as handle:
                    counts = asyncio.run(run(handle))
                    handle.flush()
                    os.fsync(handle.fileno())
                partial.replace(out)
            finally:
                partial.unlink(missing_ok=True)
    except LogUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_summary("exported", counts, f"from {common.log_url} to {out}"), err=True)


@log.command(name="import")
@click.option(
    "--into-nonempty",
    is_flag=True,
    help="Append even when a target topic already holds records (duplicates events if imported before).",
)
@click.argument("infile", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common_options  # innermost, see export
def import_command(common: CommonOptions, into_nonempty: bool, infile: Path) -> None:
    """Append every record of IN (a `log export` file) to the log, in file order, bytes unchanged."""

    async def run() -> dict[str, int]:
        target = open_event_log(common.log_url, partitions=common.partitions)
        await target.start()
        try:
            return await import_log(target, common.topic_prefix, infile, into_nonempty=into_nonempty)
        finally:
            await target.close()

    try:
        counts = asyncio.run(run())
    except LogFileError as exc:
        raise click.ClickException(f"{infile}: {exc}; nothing was written") from exc
    except LogUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_summary("imported", counts, f"from {infile} into {common.log_url}"), err=True)
