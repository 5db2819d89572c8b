"""mallbridge publisher: order events in, MALL Partner API calls and sync events out."""
