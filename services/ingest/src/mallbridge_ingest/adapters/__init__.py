"""The edges of ingest: HTTP push API, snapshot validation, file import, export poller and its mappings."""
