"""mallbridge notify: attention items pushed to a person, and the AsyncAPI document of mallbridge's topics.

`mallbridge notify` reads each lane's sync-events and sends every new `AttentionNeeded` /
`AttentionResolved` (a tenant pause included) to the tenant's `notify_webhook_url` and/or
`notify_email`. `mallbridge asyncapi` prints the AsyncAPI 3.0 document of every topic mallbridge writes.
"""
