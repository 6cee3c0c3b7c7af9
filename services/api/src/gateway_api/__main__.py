"""``python -m gateway_api`` and the ``gateway-api`` command: serve the API with uvicorn,
settings from the environment (:func:`gateway_api.server.processes.serve`).

Nothing is imported at the top of this module. A worker process (``API_WORKERS`` above 1)
is a new interpreter that first runs the script that started its supervisor, here the
``gateway-api`` command, which imports this module; the worker answers the supervisor's health
checks only after that, and is killed if it has not within 5 s, while the app's imports take
seconds.
"""

from __future__ import annotations


def main() -> None:
    from gateway_api.server.processes import serve  # see the module docstring

    serve()


if __name__ == "__main__":
    main()
