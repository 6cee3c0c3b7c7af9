"""The pieces of the API's worker processes that need no process: the multiprocess metrics
directory, the config each worker is sent, the route-table gauge in multiprocess mode.
tests/e2e/test_api_processes.py runs the real supervisor and workers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway_api import metrics
from gateway_api.config import ApiSettings
from gateway_api.server.http_server import ConnectionLimits
from gateway_api.server.processes import MULTIPROC_DIR, metrics_dir, uvicorn_options
from gateway_api.server.worker_config import WorkerConfig
from gateway_core.routes import RouteTable

LIMITS = ConnectionLimits(header_timeout=3.0, body_timeout=4.0, max_connections=50)
SETTINGS = {"environment": "development", "auth_disabled": True}


async def tiny_app(scope, receive, send) -> None:
    raise AssertionError("never served")


def tiny_factory():
    return tiny_app


@pytest.fixture
def no_multiproc_dir(monkeypatch) -> None:
    monkeypatch.delenv(MULTIPROC_DIR, raising=False)


def test_a_given_directory_is_emptied_of_metric_files_only(monkeypatch, tmp_path) -> None:
    for name in ("counter_12.db", "gauge_livesum_12.db", "histogram_99.db", "notes.txt"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv(MULTIPROC_DIR, str(tmp_path))
    with metrics_dir() as path:
        assert path == tmp_path
        assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert tmp_path.is_dir(), "a given directory is the user's: it stays"
    assert os.environ[MULTIPROC_DIR] == str(tmp_path)


def test_without_one_a_private_directory_lives_as_long_as_the_workers(no_multiproc_dir) -> None:
    with metrics_dir() as path:
        assert os.environ[MULTIPROC_DIR] == str(path)
        assert path.is_dir()
        (path / "counter_12.db").write_text("x")
    assert not path.exists()
    assert MULTIPROC_DIR not in os.environ


def test_one_worker_by_default_and_never_none(monkeypatch) -> None:
    monkeypatch.delenv("API_WORKERS", raising=False)
    assert ApiSettings(**SETTINGS).workers == 1
    monkeypatch.setenv("API_WORKERS", "4")
    assert ApiSettings(**SETTINGS).workers == 4
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        ApiSettings(**SETTINGS, workers=0)


def test_the_worker_config_makes_the_guarded_protocol_where_it_is_loaded() -> None:
    options = uvicorn_options(ApiSettings(**SETTINGS, port=8123, graceful_shutdown_seconds=7))
    config = WorkerConfig(f"{__name__}:tiny_factory", LIMITS, workers=2, **options)
    assert config.http == "httptools", "nothing unpicklable before it reaches the worker"
    copy = pickle.loads(pickle.dumps(config))
    copy.load()
    protocol = copy.http_protocol_class
    assert issubclass(protocol, HttpToolsProtocol)
    assert protocol.__name__ == "GuardedHttpToolsProtocol"
    assert copy.limits == {"header_timeout": 3.0, "body_timeout": 4.0, "max_connections": 50}
    assert copy.loaded_app is tiny_app, "no proxy-headers middleware"
    assert copy.encoded_headers == [], "no server header"
    assert (copy.workers, copy.factory, copy.port, copy.loop) == (2, True, 8123, "uvloop")
    assert copy.timeout_graceful_shutdown == 7


def test_a_worker_starts_without_importing_the_app() -> None:
    # uvicorn kills a worker that has not answered its health check within 5 s, and the thread
    # that answers starts only after the worker has run its supervisor's script (here the
    # gateway-api command, as multiprocessing's spawn runs it) and unpickled its config.
    config = WorkerConfig("gateway_api.server.processes:worker_app", LIMITS, workers=2)
    script = Path(sys.executable).parent / "gateway-api"
    check = (
        "import pickle, runpy, sys; "
        f"runpy.run_path({str(script)!r}, run_name='__mp_main__'); "
        "pickle.loads(sys.stdin.buffer.read()); "
        "heavy = sorted(m for m in ('fastapi', 'temporalio', 'gateway_api.server.http_server', "
        "'gateway_api.app') if m in sys.modules); print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        input=pickle.dumps(config),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.decode().strip() == "[]", done.stderr


def table(version: str) -> RouteTable:
    return RouteTable(routes={}, version=version)


def info_versions() -> dict[str, float]:
    return {
        sample.labels["version"]: sample.value
        for family in REGISTRY.collect()
        if family.name == "temporal_gateway_route_table_info"
        for sample in family.samples
    }


def test_one_process_shows_only_the_table_in_use(no_multiproc_dir) -> None:
    metrics.route_table_loaded(table("v1"))
    metrics.route_table_loaded(table("v2"))
    assert info_versions() == {"v2": 1.0}


def test_in_multiprocess_mode_a_replaced_table_goes_to_zero(monkeypatch, tmp_path) -> None:
    metrics.ROUTE_TABLE_INFO.clear()
    monkeypatch.setenv(MULTIPROC_DIR, str(tmp_path))
    metrics.route_table_loaded(table("v1"))  # warnings are errors: no clear() here
    metrics.route_table_loaded(table("v1"))
    metrics.route_table_loaded(table("v2"))
    assert info_versions() == {"v1": 0.0, "v2": 1.0}
