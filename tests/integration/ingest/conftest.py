"""Ingest integration tests run on both engines through the shared `event_log_url` fixture (tests/conftest.py).
The broker-loss test is Kafka-only by nature and starts its own private broker."""
