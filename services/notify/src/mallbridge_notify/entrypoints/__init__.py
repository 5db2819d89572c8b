"""The notifier's two entry points into one handler body (`Notifier.handle`): FastStream on Kafka, and the
event-log port's subscription on the embedded engine."""
