"""The Temporal side: the shared connection, the calls the API makes, visibility queries,
idempotency and completion webhooks."""
