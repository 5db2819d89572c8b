"""File import, `mallbridge ingest import FILE --tenant T` (services/ingest/README.md, "File import").

One room per step of an import job:
- `command`: what the CLI runs: the tenant lookup, the number of workers, the progress bar, the summary;
- `processes`: a parallel import's worker processes, started, watched and merged;
- `worker`: one worker: rebuild the state of its orders, wait for the go, import its lines;
- `writer`: the lines of one worker, validated and written chunk after chunk (skip-and-report);
- `shards`: which worker owns which order;
- `summary`: what an import read, wrote, skipped and why.
"""
