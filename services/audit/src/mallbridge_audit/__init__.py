"""mallbridge audit: replay both topics, report per order and per tenant, verify the publisher."""
