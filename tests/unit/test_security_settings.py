"""Nothing runs open by accident: settings that would, refuse to build, and the API process
refuses to start naming the setting to fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from gateway_api.config import ApiSettings, parse_quota

KEYS = {"keys_file": "/run/secrets/keys.yaml"}
JWT = {"jwt_issuer": "https://id.example", "jwt_audience": "temporal-gateway"}


@pytest.fixture(autouse=True)
def no_api_environment(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("API_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "no authentication configured"),
        ({"environment": "development"}, "no authentication configured"),
        ({"auth_disabled": True}, "API_AUTH_DISABLED=true is only allowed with"),
        ({"auth_disabled": True, "environment": "production", **KEYS}, "only allowed with"),
        ({"jwt_issuer": "https://id.example"}, "API_JWT_ISSUER and API_JWT_AUDIENCE"),
        ({"jwt_audience": "gw", **KEYS}, "API_JWT_ISSUER and API_JWT_AUDIENCE"),
        ({**JWT, "jwt_algorithms": "HS256"}, "allowed: "),
        ({**JWT, "jwt_algorithms": "RS256,none"}, "allowed: "),
        ({**JWT, "jwt_algorithms": ""}, "allowed: "),
        ({**JWT, "jwt_leeway_seconds": 61}, "less than or equal to 60"),
        ({**KEYS, "rate_limit": "10 per second"}, "is not a rate"),
        ({**KEYS, "rate_limit_global": "0/s"}, "is not a rate"),
        ({**KEYS, "rate_limit": "5/s burst 0"}, "burst must be at least 1"),
        ({**KEYS, "environment": "staging"}, "'development' or 'production'"),
    ],
)
def test_refused(settings, message) -> None:
    with pytest.raises(ValidationError, match=message):
        ApiSettings(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        KEYS,
        JWT,
        {**KEYS, **JWT},
        {"environment": "development", "auth_disabled": True},
        {**JWT, "jwt_algorithms": "ES256,PS256,EdDSA", "rate_limit": "off"},
    ],
)
def test_accepted(settings) -> None:
    ApiSettings(**settings)


def test_production_is_the_default() -> None:
    assert ApiSettings(**KEYS).environment == "production"


def test_lists_come_comma_separated_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("API_KEYS_FILE", "/k.yaml")
    monkeypatch.setenv("API_JWT_ALGORITHMS", "RS256, ES384")
    monkeypatch.setenv("API_CORS_ORIGINS", "https://a.example,https://b.example")
    settings = ApiSettings()
    assert settings.jwt_algorithms == {"RS256", "ES384"}
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("text", "quota"),
    [
        ("10/s burst 20", (10, 1, 20)),
        ("600/m", (600, 60, 600)),
        (" 5 / h  burst 1 ", (5, 3600, 1)),
        ("1/d", (1, 86400, 1)),
        ("off", None),
    ],
)
def test_quotas(text, quota) -> None:
    parsed = parse_quota(text)
    as_tuple = None if parsed is None else (parsed[0], parsed[1].total_seconds(), parsed[2])
    assert as_tuple == quota


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, ["API_KEYS_FILE", "API_JWT_ISSUER", "API_AUTH_DISABLED"]),
        ({"API_KEYS_FILE": "/k", "API_JWT_LEEWAY_SECONDS": "600"}, ["API_JWT_LEEWAY_SECONDS"]),
        # A key file that is missing, empty or broken: one line naming it, not a traceback.
        ({"API_KEYS_FILE": "/nonexistent/keys.yaml"}, ["API_KEYS_FILE", "cannot read"]),
        ({"API_KEYS_FILE": "{tmp}/empty.yaml"}, ["API_KEYS_FILE", "empty.yaml: empty"]),
        ({"API_KEYS_FILE": "{tmp}/broken.yaml"}, ["API_KEYS_FILE", "broken.yaml: keys.0"]),
    ],
)
def test_the_process_refuses_to_start_naming_the_setting(env, names, tmp_path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "broken.yaml").write_text("keys:\n  - id: x\n")
    env = {name: value.replace("{tmp}", str(tmp_path)) for name, value in env.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("API_")}
    done = subprocess.run(
        [sys.executable, "-m", "gateway_api"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("configuration error: ")
    assert "Traceback" not in done.stderr
    for name in names:
        assert name in done.stderr
