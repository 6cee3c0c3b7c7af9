"""The OpenAPI document, per route, with examples from the routes' own schemas."""
