"""The Kafka adapter of the event-log port (aiokafka). The only package that imports aiokafka.

Where each part lives:
- `log.py`: `KafkaEventLog`, the port's EventLog, and its producer: idempotent, acks=all; `append` waits
  for every acknowledgement, and a failed or timed-out append discards the producer, so nothing
  buffered from a failed call can slip out later unannounced;
- `topics.py`: creating topics (retention off: they are the source of truth), their partitions and end
  offsets, without ever auto-creating one by looking;
- `replay.py`: bounded reads with manual partition assignment, no group, no commits;
- `subscription.py`: `KafkaSubscription`, a consumer-group member with manual commits;
- `records.py`: aiokafka's records as the port's `LogRecord`.

See port.py for the semantics.
"""

from __future__ import annotations

from mallbridge_core.eventlog.kafka.log import KafkaEventLog
from mallbridge_core.eventlog.kafka.subscription import KafkaSubscription

__all__ = ["KafkaEventLog", "KafkaSubscription"]
