"""A real ``redis-server`` (Debian's, unpacked by ``hack/redis.sh``) on a free port, in memory
only, stopped by its pid."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.procs import Process, eventually, free_port
from support.tools import redis_dir


class RedisServer(Process):
    def __init__(self, log_dir: Path, *, port: int | None = None) -> None:
        self.bin_dir = redis_dir()
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__(
            f"redis-{self.port}",
            [self.bin_dir / "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            log_dir=log_dir,
        )  # fmt: skip

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self.bin_dir / "redis-cli", "-p", str(self.port), *args],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
        return done.stdout.strip()

    def wait_ready(self, timeout: float = 20.0) -> None:
        def pong() -> bool:
            assert self.alive(), f"redis exited:\n{self.log()}"
            return self.cli("ping") == "PONG"

        eventually(pong, timeout=timeout, interval=0.1)
