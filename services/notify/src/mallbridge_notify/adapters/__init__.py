"""The notifier's adapters: webhook (httpx), SMTP (smtplib), the ledger on the event log, health over HTTP."""
