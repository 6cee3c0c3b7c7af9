"""Real TLS in front of the Temporal dev server, which cannot serve TLS itself.

``temporal server start-dev`` has no TLS options, so :class:`TlsRelay` terminates TLS (mutual
when asked: the client must present a certificate from the test CA) with Python's ``ssl`` and
relays the bytes to the dev server's plain port. The SDK's client therefore does a real TLS
handshake, offers its real client certificate and speaks real gRPC over it; only the server's
end of TLS is this relay rather than Temporal's frontend. The relay also decodes the HPACK
header blocks the client sends (the hyper project's ``hpack``), so a test can see the
``authorization`` metadata an API key puts on every call.

Certificates are made here with ``cryptography``: a CA, a server certificate for 127.0.0.1 and
``localhost``, and client certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import hpack
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support.procs import free_port

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, CONTINUATION = 0x1, 0x9
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20


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
class TlsRelay:
    """TLS on a free port, relayed to ``upstream`` (``host:port``) in the clear."""

    upstream: str
    server: Issued
    client_ca: Path | None = None
    """Require client certificates signed by this CA (mutual TLS); None: server TLS only."""
    port: int = field(default_factory=free_port)
    headers: list[dict[str, str]] = field(default_factory=list)
    """The header block of every request the clients sent, decoded."""
    handshakes: int = 0
    """Completed handshakes."""

    def __post_init__(self) -> None:
        self.address = f"127.0.0.1:{self.port}"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server.cert, self.server.key)
        context.set_alpn_protocols(["h2"])
        if self.client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_ca)
        self._context = context
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            # TLS starts in _serve, not here: a connection still in its handshake is then one of
            # the tasks stop() ends, instead of a transport the closed loop leaves to the gc.
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # relays of connections still open
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                await writer.start_tls(self._context, ssl_handshake_timeout=10)
            except (OSError, ssl.SSLError, TimeoutError):
                return
            self.handshakes += 1
            host, port = self.upstream.rsplit(":", 1)
            try:
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
            except OSError:
                return
            decoder = _HeaderReader(self.headers)
            await asyncio.gather(
                _pipe(reader, up_writer, decoder.feed), _pipe(up_reader, writer, None),
                return_exceptions=True,
            )  # fmt: skip
        except asyncio.CancelledError:
            pass  # stop() ends it; raised, Python 3.11's start_server would log it as an error
        finally:
            writer.transport.abort()  # closed now, whatever state its TLS is in


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap) -> None:  # type: ignore[no-untyped-def]
    try:
        while data := await reader.read(65536):
            if tap is not None:
                tap(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class _HeaderReader:
    """Splits the client's HTTP/2 byte stream into frames and decodes its header blocks."""

    def __init__(self, out: list[dict[str, str]]) -> None:
        self._out = out
        self._buffer = b""
        self._preface_seen = False
        self._decoder = hpack.Decoder()
        self._block = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(PREFACE):
                return
            self._buffer = self._buffer[len(PREFACE) :]
            self._preface_seen = True
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                return
            kind, flags = self._buffer[3], self._buffer[4]
            payload = self._buffer[9 : 9 + length]
            self._buffer = self._buffer[9 + length :]
            if kind == HEADERS:
                pad = payload[0] if flags & PADDED else 0
                start = (1 if flags & PADDED else 0) + (5 if flags & PRIORITY else 0)
                self._block = payload[start : len(payload) - pad]
            elif kind == CONTINUATION:
                self._block += payload
            else:
                continue
            if flags & END_HEADERS:
                decoded = self._decoder.decode(self._block)
                self._out.append({str(k): str(v) for k, v in decoded})
                self._block = b""
