"""The API surface: the operation table, the per-request dispatch, the handlers and their response
bodies."""
