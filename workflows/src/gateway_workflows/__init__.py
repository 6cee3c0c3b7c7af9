"""Workflows and activities of temporal-gateway.

Workflow modules run inside Temporal's sandbox and are replayed: they import only
deterministic, side-effect-free code (no settings, logging setup or telemetry) and log through
``workflow.logger``. This package is its own distribution so that rule is a package boundary.
"""
