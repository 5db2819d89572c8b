"""mallbridge ingest: FastCentrik order snapshots in (HTTP push, file import, export poller), order events out.

`domain/` is the pure change detection, `service.py` the application service around the event log,
`adapters/` the edges (HTTP, files, export poller), `bootstrap.py` the one composition root, `cli.py`
the `mallbridge ingest` command.
"""
