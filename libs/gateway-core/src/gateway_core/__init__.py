"""Code shared by the temporal-gateway services: route model, Temporal settings, logging.

This is a library: it has no entry points and imports no service package.
"""
