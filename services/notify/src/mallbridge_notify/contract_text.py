"""The prose of the AsyncAPI document: what an integrator reading mallbridge's topics needs to know."""

from __future__ import annotations

from typing import Any

from mallbridge_notify.domain.ledger import LEDGER_TOPIC
from mallbridge_schema.serde import DEAD_LETTER_TOPIC, OPERATOR_EVENTS_TOPIC, ORDER_EVENTS_TOPIC, SYNC_EVENTS_TOPIC

_DESCRIPTION = """\
The Kafka topics mallbridge writes. Every value is a UTF-8 JSON object (the dead letter excepted).

**Names.** Addresses here use the default prefix `mallbridge.`; a deployment chooses its own with
`--topic-prefix`. A tenant in lane `x` (tenants file `lane = "x"`) writes to `{prefix}lane-x.<topic>`
instead; a tenant moved to a lane keeps its older history in the default lane's topics, so read the
default lane first.

**Keys and ordering.** The key of an order's event is `{tenant_id}:{order_number}` (UTF-8). Kafka keeps
the records of one key in order, so one order's events arrive in the order they were written; there is
no order across orders or topics. Tenant-level events have `order_number` "" (key `{tenant_id}:`).
Order events carry a per-order `seq` (1 = first seen, then strictly increasing; a write the log did not
acknowledge leaves a gap, so a gap is no missing event); a sync event's `based_on_seq` names the order
event its decision was made on.

**Delivery.** mallbridge writes each event once, but a reader sees a record again after a restart or a
rebalance that happens before its offsets are committed: deduplicate by `event_id` (a UUID, unique per
event).

**Tolerant reading.** Events are tagged by `type`. Ignore fields you do not know (new optional fields
are added without notice and without a version change) and skip event types you do not know (new types
are added to a topic's union over time); never fail on either.

**Versions.** Each event carries `schema_version` (now 1). A breaking change to an event bumps it; the
topic keeps its name (`.v1`) while older versions can still be read. A new topic version (`.v2`) is
for changes that cannot be read alongside the old ones, and both would be written for a transition.
"""

# one paragraph per line in the document (the source keeps lines short)
DOCUMENT_DESCRIPTION = "\n\n".join(" ".join(p.split("\n")) for p in _DESCRIPTION.strip().split("\n\n"))

SERVER_DESCRIPTION = "Your Kafka cluster, as given to mallbridge with `--log kafka://HOST:PORT`."

TOPIC_DESCRIPTIONS = {
    ORDER_EVENTS_TOPIC: (
        "Facts about the FastCentrik side of each order, written by ingest only: first seen, status "
        "changes, delivery date, tracking, the MDP flag; and MALL's webhook receipts."
    ),
    SYNC_EVENTS_TOPIC: (
        "What the publisher sent to MALL and what MALL answered or showed when read; steps deferred "
        "(missing data), and attention items (`AttentionNeeded` / `AttentionResolved`) for a person."
    ),
    OPERATOR_EVENTS_TOPIC: (
        "What a person decided (a manual return, a resync, an acknowledged attention item, each with who "
        "and why) and what `mallbridge balance` saw at MALL: an order's status, and per tenant (one "
        "tenant-level event, the whole set) the MALL orders no FastCentrik snapshot has named."
    ),
    DEAD_LETTER_TOPIC: (
        "Records a mallbridge service could not decode, moved aside unchanged (same key, same bytes) with "
        "where they came from in the headers. Nothing here is an event; it is for a person to look at."
    ),
    LEDGER_TOPIC: (
        "The notifier's own ledger (`mallbridge notify`): which alert (an attention item, or balance's MALL "
        "orders unknown to FastCentrik) is owed on which channel and which went out. Internal state, "
        "compacted; listed for completeness, not an integration point."
    ),
}

_ORDER_KEY = "`{tenant_id}:{order_number}` (a tenant-level event: `{tenant_id}:`)"
KEY_DESCRIPTIONS = {
    ORDER_EVENTS_TOPIC: _ORDER_KEY,
    SYNC_EVENTS_TOPIC: _ORDER_KEY,
    OPERATOR_EVENTS_TOPIC: _ORDER_KEY,
    DEAD_LETTER_TOPIC: "the key of the record that could not be decoded, unchanged",
    LEDGER_TOPIC: "`{event_id}:{channel}`: the alert's source event's id and `webhook` or `email`",
}

DEAD_LETTER_PAYLOAD: dict[str, Any] = {
    "description": "the value of the record that could not be decoded, unchanged (any bytes)"
}

DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "source-topic": {"type": "string", "description": "the topic the record was read from"},
        "source-partition": {"type": "string", "description": "its partition, in decimal"},
        "source-offset": {"type": "string", "description": "its offset, in decimal"},
        "error": {"type": "string", "description": "why it could not be decoded (at most 2000 characters)"},
    },
}
