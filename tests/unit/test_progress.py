"""``hack/lib/progress.sh``: a long first run says what it does while it does it.

Each case runs the bash functions with a beat every few tenths of a second instead of every
minute, and its own durations file (never the shared cache's). The last cases run
``hack/step.sh`` itself, as the Makefile's installs do, its cache in a home of its own.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.procs import ROOT

LIB = ROOT / "hack" / "lib" / "progress.sh"
STEP = ROOT / "hack" / "step.sh"


def bash(script: str, tmp_path: Path, *, interval: float = 0.3, timeout: float = 60) -> tuple:
    done = subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source {LIB}; {script}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PROGRESS_INTERVAL": str(interval),
            "PROGRESS_DURATIONS": str(tmp_path / "durations.tsv"),
        },
    )
    return done.returncode, done.stderr.splitlines()


def test_a_step_says_what_it_does_while_it_does_it(tmp_path) -> None:
    code, lines = bash("step build kube-apiserver 980 sleep 1.1", tmp_path)
    assert code == 0
    assert lines[0] == "[assets] building kube-apiserver (first time here: about 16m)"
    beats = lines[1:-1]
    assert len(beats) >= 2, lines
    for beat in beats:
        assert re.fullmatch(r"\[assets\] still building kube-apiserver: [01]s of ~16m", beat), beat
    # Whole seconds of the clock (date +%s): 1.1 s is 1 or 2 of them.
    assert re.fullmatch(r"\[assets\] built kube-apiserver in [12]s", lines[-1]), lines
    record = (tmp_path / "durations.tsv").read_text().split("\t")
    assert record[0] == "build kube-apiserver"
    assert record[1] in ("1", "2")


def test_the_next_run_says_how_long_it_took_here_the_last_time(tmp_path) -> None:
    (tmp_path / "durations.tsv").write_text(
        "build jaeger\t250\t2026-01-01T00:00:00Z\nbuild helm\t3\t2026-01-01T00:00:00Z\n"
    )
    code, lines = bash("step build jaeger 600 sleep 0.7", tmp_path)
    assert code == 0
    assert lines[0] == "[assets] building jaeger (4m10s here last time)"
    # Of the last time's 4m10s, not the estimate's 10 minutes.
    assert re.fullmatch(r"\[assets\] still building jaeger: [01]s of ~4m", lines[1]), lines
    rows = (tmp_path / "durations.tsv").read_text().splitlines()
    assert [r.split("\t")[0] for r in rows] == ["build helm", "build jaeger"]
    assert rows[1].split("\t")[1] in ("0", "1")


def test_past_its_estimate_a_beat_says_so(tmp_path) -> None:
    code, lines = bash("step download 'the Traefik module' 1 sleep 3.9", tmp_path, interval=1.5)
    assert code == 0
    assert lines[-2] in (
        "[assets] still downloading the Traefik module: 3s, ~1s expected",
        "[assets] still downloading the Traefik module: 4s, ~1s expected",
    ), lines


def test_a_failed_step_says_so_and_records_nothing(tmp_path) -> None:
    code, lines = bash("step install chromium 35 bash -c 'exit 3'", tmp_path)
    assert code == 3
    assert lines[0] == "[assets] installing chromium (first time here: about 35s)"
    assert re.fullmatch(r"\[assets\] installing chromium FAILED after [01]s", lines[1]), lines
    assert len(lines) == 2, lines
    assert not (tmp_path / "durations.tsv").exists()


def test_the_beat_holds_no_pipe_once_its_step_is_over(tmp_path) -> None:
    """A caller reading the script's output (``$(...)``, ``capture_output``) gets its end as
    soon as the script ends, not when the beat's next sleep would."""
    started = time.monotonic()
    code, lines = bash("step build quick 5 true; echo after >&2", tmp_path, interval=30)
    assert code == 0
    assert time.monotonic() - started < 5
    assert lines[-1] == "after"


def test_the_beat_ends_with_the_script_that_started_it(tmp_path) -> None:
    """A background job ignores Ctrl-C: once its script is gone, the beat stops by itself
    (else the captured stderr would stay open, and run() would time out)."""
    started = time.monotonic()
    code, lines = bash("step build doomed 60 bash -c 'kill -KILL $PPID; sleep 5'", tmp_path)
    assert code == -9
    assert time.monotonic() - started < 6
    assert lines[0] == "[assets] building doomed (first time here: about 1m)"
    assert all(line.startswith("[assets] still building doomed") for line in lines[1:]), lines


def test_the_lines_go_to_progress_fd_when_it_is_set(tmp_path) -> None:
    """Under hack/assets.sh a group's stderr is its log; its steps still reach the terminal."""
    terminal = tmp_path / "terminal"
    code, lines = bash(
        f"exec 7>{terminal}; PROGRESS_FD=7 step build coredns 180 bash -c 'echo noise >&2'",
        tmp_path,
    )
    assert code == 0
    assert lines == ["noise"]
    said = terminal.read_text().splitlines()
    assert said[0] == "[assets] building coredns (first time here: about 3m)"
    assert re.fullmatch(r"\[assets\] built coredns in [01]s", said[1]), said
    assert len(said) == 2, said


def test_in_a_group_a_step_leaves_its_beat_to_the_watcher(tmp_path) -> None:
    """Under hack/assets.sh: one line a beat for all groups, not one per group."""
    status = tmp_path / "progress"
    status.mkdir()
    code, lines = bash(
        f"""export PROGRESS_DIR={status}
        (PROGRESS_GROUP=kubernetes step build kube-apiserver 980 sleep 1.2) &
        kubernetes=$!
        (PROGRESS_GROUP=go-tools step build jaeger 600 sleep 1.2) &
        tools=$!
        progress_watch $$ $(($(date +%s) - 125)) &
        watcher=$!
        wait $kubernetes $tools
        kill $watcher""",
        tmp_path,
    )
    assert code == 0
    beats = [line for line in lines if " in: " in line]
    assert beats, lines
    assert re.fullmatch(
        r"\[assets\] 2m0[5-9]s in: (jaeger [012]s of ~10m, kube-apiserver [012]s of ~16m"
        r"|kube-apiserver [012]s of ~16m, jaeger [012]s of ~10m)",
        beats[0],
    ), beats
    assert not [line for line in lines if "still" in line], lines  # no beat of their own
    built = sorted(line for line in lines if " built " in line)
    assert len(built) == 2, lines
    assert re.fullmatch(r"\[assets\] built jaeger in [12]s", built[0]), built
    assert re.fullmatch(r"\[assets\] built kube-apiserver in [12]s", built[1]), built
    assert list(status.iterdir()) == []


def test_quietly_keeps_the_output_in_its_log_unless_it_fails(tmp_path) -> None:
    log = tmp_path / "apt.log"
    code, lines = bash(f"quietly {log} bash -c 'seq 1 100'", tmp_path)
    assert (code, lines) == (0, [])
    assert log.read_text().splitlines() == [str(i) for i in range(1, 101)]
    code, lines = bash(f"quietly {log} bash -c 'seq 1 100; exit 100'", tmp_path)
    assert code == 100
    assert lines == [*[str(i) for i in range(71, 101)], f"(the whole log: {log})"]


@pytest.mark.parametrize(
    ("seconds", "human"),
    [(0, "0s"), (45, "45s"), (60, "1m00s"), (250, "4m10s"), (982, "16m22s"), (3720, "1h02m")],
)
def test_durations_read_as_a_person_would_say_them(tmp_path, seconds, human) -> None:
    done = subprocess.run(
        ["bash", "-c", f"source {LIB}; progress_human {seconds}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == human


class StepScript:
    """``hack/step.sh ARGS`` running, its stderr read line by line as it comes; its home (so
    its durations cache) is ``tmp_path``. Its command's stdin is the test's to write."""

    def __init__(self, args: list[str], tmp_path: Path, *, interval: float = 0.2) -> None:
        self.proc = subprocess.Popen(
            [str(STEP), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                 "PROGRESS_INTERVAL": str(interval)},
        )  # fmt: skip
        self.said: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next(self, deadline: float) -> str | None:
        try:
            return self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"step.sh said no more within the time: {self.said}") from None

    def until(self, said_enough: Callable[[list[str]], bool], timeout: float = 10) -> None:
        """Read its lines until ``said_enough`` of them."""
        deadline = time.monotonic() + timeout
        while not said_enough(self.said):
            line = self._next(deadline)
            assert line is not None, f"step.sh ended first: {self.said}"
            self.said.append(line)

    def finish(self, stdin: str = "", timeout: float = 10) -> tuple[int, str]:
        """Give its command ``stdin``, then read all it says; its status and stdout."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while (line := self._next(deadline)) is not None:
            self.said.append(line)
        return code, self.proc.stdout.read()

    def __enter__(self) -> StepScript:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill it if it still runs (a failed test), and close its pipes once read."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def test_step_sh_says_what_it_installs_while_its_output_goes_to_the_log(tmp_path) -> None:
    """As ``make install`` runs it: the command (here: one that waits for the test to let it
    finish, so it runs until two beats are out) writes only to its log."""
    log = tmp_path / "logs" / "uv.log"
    with StepScript(
        ["-t", "install", "-l", str(log), "install", "uv 0.9.30", "20",
         "bash", "-c", "echo resolving; read -r go; echo \"installed: $go\"; echo warn >&2"],
        tmp_path,
    ) as step:  # fmt: skip
        step.until(lambda said: sum("still" in line for line in said) >= 2)
        code, stdout = step.finish("uv==0.9.30\n")
    assert code == 0, step.said
    assert stdout == ""
    assert step.said[0] == "[install] installing uv 0.9.30 (first time here: about 20s)"
    beats = step.said[1:-1]
    assert len(beats) >= 2, step.said
    for beat in beats:
        assert re.fullmatch(r"\[install\] still installing uv 0\.9\.30: \d+s of ~20s", beat), beat
    assert re.fullmatch(r"\[install\] installed uv 0\.9\.30 in \d+s", step.said[-1]), step.said
    assert log.read_text().splitlines() == ["resolving", "installed: uv==0.9.30", "warn"]
    # The next run's first line comes from the cache under the caller's home.
    durations = tmp_path / ".cache" / "temporal-gateway" / "durations.tsv"
    took = re.search(r" in (\d+)s$", step.said[-1])
    assert took is not None
    assert durations.read_text().split("\t")[:2] == ["install uv 0.9.30", took.group(1)]


def test_step_sh_prints_the_log_of_a_failed_install_and_fails(tmp_path) -> None:
    log = tmp_path / "logs" / "uv-sync.log"
    with StepScript(
        ["-t", "install", "-l", str(log), "install", "the Python packages", "90",
         "bash", "-c", "echo 'Resolved 212 packages'; echo 'error: no such wheel' >&2; exit 7"],
        tmp_path,
    ) as step:  # fmt: skip
        code, stdout = step.finish()
    assert code == 7, step.said
    assert stdout == ""
    assert step.said[:4] == [
        "[install] installing the Python packages (first time here: about 2m)",
        "Resolved 212 packages",
        "error: no such wheel",
        f"(the whole log: {log})",
    ]
    assert re.fullmatch(
        r"\[install\] installing the Python packages FAILED after \d+s", step.said[4]
    ), step.said
    assert len(step.said) == 5, step.said
    assert not (tmp_path / ".cache" / "temporal-gateway" / "durations.tsv").exists()
