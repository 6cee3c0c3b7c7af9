"""A webhook receiver on loopback: records every POST and answers each path from a script, so
tests of the completion webhooks see exactly what the worker sent (real HTTP, no mock)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers each path from its script (then 200). ``start`` serves it
    from a thread, ``stop`` closes it."""

    server: ThreadingHTTPServer
    deliveries: list[Delivery] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    answers: dict[str, list[Callable[[BaseHTTPRequestHandler], None]]] = field(default_factory=dict)
    """Per path, answers written by hand (an attacker's receiver), one per request."""
    sent: dict[str, int] = field(default_factory=dict)
    """Per path, the body bytes a hand-written answer got onto the connection."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls) -> Receiver:
        receiver = cls(ThreadingHTTPServer(("127.0.0.1", 0), _handler(lambda: receiver)))
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        return receiver

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.path == path]


def _handler(receiver_of: Callable[[], Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_of()
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with receiver.lock:
                receiver.deliveries.append(
                    Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                queue = receiver.script.get(self.path, [])
                status = queue.pop(0) if queue else 200
                answers = receiver.answers.get(self.path, [])
                answer = answers.pop(0) if answers else None
            if answer is not None:
                with contextlib.suppress(OSError):  # the client hung up: as it should
                    answer(self)
                return
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.base + "/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    return Handler
