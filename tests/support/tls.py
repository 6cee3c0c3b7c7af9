"""Real TLS in front of the Temporal dev server, which cannot serve TLS itself.

``temporal server start-dev`` has no TLS options, so :class:`TlsRelay` terminates TLS (mutual
when asked: the client must present a certificate from the test CA) with Python's ``ssl`` and
relays the bytes to the dev server's plain port. The SDK's client therefore does a real TLS
handshake, offers its real client certificate and speaks real gRPC over it; only the server's
end of TLS is this relay rather than Temporal's frontend. The relay also decodes the HPACK
header blocks the client sends (:class:`support.grpc_relay.GrpcRelay`), so a test can see the
``authorization`` metadata an API key puts on every call.

Certificates are made here with ``cryptography``: a CA, a server certificate for 127.0.0.1 and
``localhost``, and client certificates.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support.grpc_relay import GrpcRelay


@dataclass
class Issued:
    cert: Path
    key: Path


@dataclass
class Authority:
    """A test CA that writes PEM files into ``folder``."""

    folder: Path
    name: str = "test-ca"

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cert = self.folder / f"{self.name}.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return issued


@dataclass
class TlsRelay(GrpcRelay):
    """TLS on a free port, relayed to ``upstream`` (``host:port``) in the clear."""

    server: Issued | None = None
    client_ca: Path | None = None
    """Require client certificates signed by this CA (mutual TLS); None: server TLS only."""
    handshakes: int = 0
    """Completed handshakes."""

    def __post_init__(self) -> None:
        assert self.server is not None, "TlsRelay needs the server's certificate"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server.cert, self.server.key)
        context.set_alpn_protocols(["h2"])
        if self.client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_ca)
        self._context = context
        super().__post_init__()

    async def _accept(self, writer: asyncio.StreamWriter) -> bool:
        # TLS starts here, not in the listener: a connection still in its handshake is then one
        # of the tasks stop() ends, instead of a transport the closed loop leaves to the gc.
        try:
            await writer.start_tls(self._context, ssl_handshake_timeout=10)
        except (OSError, ssl.SSLError, TimeoutError):
            return False
        self.handshakes += 1
        return True
