"""The temporal-gateway worker service."""
