"""mallbridge audit: replay the three topics, report per order and per tenant, verify the publisher."""
