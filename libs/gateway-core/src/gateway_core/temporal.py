"""How every service finds its Temporal server.

Temporal's own environment configuration (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``,
``TEMPORAL_API_KEY``, ``TEMPORAL_TLS*``, ``TEMPORAL_PROFILE`` and the TOML config file) is read by
``temporalio.envconfig``, so the gateway is configured the same way as the ``temporal`` CLI and
every other SDK. The seed guide's ``TEMPORAL_HOST`` still works as an alias for the address.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"


def connect_config(env: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """Keyword arguments for ``Client.connect`` from the environment.

    Args:
        env: the environment to read; ``os.environ`` when None (tests pass their own).
    """
    env = os.environ if env is None else env
    config = ClientConfigProfile.load(override_env_vars=dict(env)).to_client_connect_config()
    if "target_host" not in config:
        config["target_host"] = env.get("TEMPORAL_HOST") or DEFAULT_ADDRESS
    config.setdefault("namespace", DEFAULT_NAMESPACE)
    return config
