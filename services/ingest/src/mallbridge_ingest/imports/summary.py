"""What an import read, wrote and skipped: one worker's part, and the parts merged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mallbridge_ingest.domain import Rejection


@dataclass
class ImportSummary:
    read: int = 0
    changed: int = 0
    unchanged: int = 0
    stale: int = 0  # older than what was already applied to their order (ARCHITECTURE.md §3): changed nothing
    events: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    aborted: str | None = None
    seconds: float = 0.0  # the import itself, after the known state was rebuilt
    cpu_seconds: float = 0.0  # CPU time of the import itself, all workers together

    @property
    def rejected_lines(self) -> int:
        return len({line for line, _ in self.rejected})

    def reject(self, rejection: Rejection) -> None:
        self.rejected.append((rejection.index, rejection.describe(f"line {rejection.index}")))


def merge_summaries(parts: Iterable[ImportSummary]) -> ImportSummary:
    """One summary of several workers' parts (each worker read its own lines; they ran side by side)."""
    merged = ImportSummary()
    for part in parts:
        merged.read += part.read
        merged.changed += part.changed
        merged.unchanged += part.unchanged
        merged.stale += part.stale
        merged.events += part.events
        merged.rejected.extend(part.rejected)
        merged.aborted = merged.aborted or part.aborted
        merged.seconds = max(merged.seconds, part.seconds)
        merged.cpu_seconds += part.cpu_seconds
    merged.rejected.sort()
    return merged
