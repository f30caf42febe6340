"""The Ray test cluster: one per session, fixed logical CPUs, loopback only.

Tests marked ``ray`` need Ray Data and a loopback-only network namespace: Ray probes a public
DNS server to find its own IP address, which a test must never do on an open network. They
are skipped, with the reason, when either is missing; ``.ci/run`` runs them with

    unshare -n sh -c 'ip link set lo up && python -m pytest -m ray tests/jobs'

and ``GENZIQA_RAY_TESTS=1``, which turns a missing Ray or network namespace into an error
instead of a skip, so that CI cannot pass without running them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

RAY_CPUS = 4  # logical: more than the 2 cores of CI, so actors never starve the decoding tasks


def _ray_skip_reason() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return "Ray Data is not installed (pip install 'genziqa[ray]')"
    interfaces = {name for _, name in socket.if_nameindex()}
    if interfaces - {"lo"}:
        return (
            "Ray tests run only in a loopback-only network namespace (Ray probes a public DNS "
            "server for its IP): unshare -n sh -c 'ip link set lo up && python -m pytest -m ray "
            "tests/jobs' (.ci/run does this)"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("ray")]
    reason = _ray_skip_reason() if marked else None
    if reason is None:
        return
    if os.environ.get("GENZIQA_RAY_TESTS") == "1":
        raise pytest.UsageError(f"GENZIQA_RAY_TESTS=1 but the Ray tests cannot run: {reason}")
    for item in marked:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def ray_cluster(_genziqa_cache: Path) -> str:
    """A local Ray cluster for the whole session; returns its address for subprocesses.

    Workers inherit this process's environment: the offline hub, the private genziqa cache
    (``_genziqa_cache``) and a PYTHONPATH that puts this checkout's package first.
    """
    import ray

    import genziqa

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    source = str(Path(genziqa.__file__).resolve().parents[1])
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([source, *(os.path.abspath(p) for p in rest)])
    temp = tempfile.mkdtemp(prefix="gzray-")  # short: Ray's socket paths must fit 107 bytes
    ray.init(
        address="local",
        num_cpus=RAY_CPUS,
        num_gpus=0,
        include_dashboard=False,
        object_store_memory=200 * 2**20,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
