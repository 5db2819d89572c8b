"""The pure domain core: the projection fold and the reconciler. No Kafka, HTTP, clock or environment."""
