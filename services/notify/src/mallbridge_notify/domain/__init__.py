"""The notifier's pure core: which sync events become alerts, how an alert reads, and the ledger fold.

No I/O, no clock, no environment: time comes in as arguments.
"""
