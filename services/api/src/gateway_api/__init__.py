"""The temporal-gateway HTTP API service."""
