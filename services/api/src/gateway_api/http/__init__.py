"""HTTP plumbing that knows nothing of Temporal: request context and access log, guards, security
headers, request bodies and headers."""
