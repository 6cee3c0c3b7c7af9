"""``python -m gateway_api.keys``: the key file tool of :mod:`gateway_api.security.keys`, kept at
the name the docs and operators' scripts use."""

from gateway_api.security.keys import main

if __name__ == "__main__":
    raise SystemExit(main())
