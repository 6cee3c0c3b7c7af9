"""A small, real OIDC provider for tests: discovery and JWKS over HTTP on a free port, and
tokens signed with real keys (RSA, EC, Ed25519) by PyJWT.

The key set can be rotated, and the provider taken down, while the API under test runs; it
counts the JWKS fetches so tests can see caching and refetch limits.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from support.procs import free_port

AUDIENCE = "temporal-gateway"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any
    publish_alg: bool = True
    """Whether the published JWK names its ``alg`` (many providers leave it out)."""

    @classmethod
    def new(cls, alg: str, kid: str | None = None, **kwargs: Any) -> SigningKey:
        private: Any
        if alg.startswith(("RS", "PS")):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
            private = ec.generate_private_key(curve[alg])
        return cls(kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg, private, **kwargs)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        data = json.loads(algorithm.to_jwk(self.private.public_key()))
        data |= {"kid": self.kid, "use": "sig"}
        if self.publish_alg:
            data["alg"] = self.alg
        return data


@dataclass
class Provider:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks``."""

    keys: list[SigningKey] = field(default_factory=list)
    extra_jwks: list[dict[str, Any]] = field(default_factory=list)
    """Raw JWKs published as they are (symmetric keys, odd curves)."""
    up: bool = True
    jwks_fetches: int = 0
    """Key sets served."""
    requests: int = 0
    """Requests of any kind, answered or not."""

    def __post_init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests += 1
                if not provider.up:
                    self.send_error(503)
                    return
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks"}
                elif self.path == "/jwks":
                    provider.jwks_fetches += 1
                    body = {"keys": [k.jwk() for k in provider.keys] + provider.extra_jwks}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(
        self,
        key: SigningKey | None = None,
        *,
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed by ``key`` (the first published one by default); ``claims`` override
        the defaults (issuer, audience, a subject, valid for five minutes). A claim set to
        None is left out."""
        key = key or self.keys[0]
        now = int(time.time())
        payload = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": "alice", "iat": now,
            "nbf": now, "exp": now + 300, **claims,
        }  # fmt: skip
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload,
            key.private,
            algorithm=alg or key.alg,
            headers={"kid": key.kid, **(headers or {})},
        )
