"""Pure change detection: last known FastCentrik state of an order + a snapshot -> the events to emit.

No I/O, no clock, no environment: times come in as arguments and event ids are derived from content.
"""

from mallbridge_ingest.domain.batch import BatchPlan, Rejection, after_failed_write, plan_batch
from mallbridge_ingest.domain.detect import SnapshotConflictError, detect_changes, is_stale
from mallbridge_ingest.domain.state import UNKNOWN, OrderState, apply_event

__all__ = [
    "UNKNOWN",
    "BatchPlan",
    "OrderState",
    "Rejection",
    "SnapshotConflictError",
    "after_failed_write",
    "apply_event",
    "detect_changes",
    "is_stale",
    "plan_batch",
]
