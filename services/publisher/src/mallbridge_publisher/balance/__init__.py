"""`mallbridge balance`: MALL's non-final orders against what the log says MALL has (ARCHITECTURE.md §6).

`drift.py` (pure: what counts as drift, the observation that records it), `log_view.py` (the log folded
per tenant), `mall_view.py` (MALL's lists and the detail reads, counted), `run.py` (one run), `render.py`
(table or JSON), `cli.py` (the command).
"""
