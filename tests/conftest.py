"""Shared fixtures: the real-data folder, offline settings, composing the real configs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests run on 2 cores, often two pytest workers at once: one thread each avoids
# oversubscription (which makes tiny models 20x slower); subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

ROOT = Path(__file__).resolve().parents[1]


def gpu_device() -> torch.device:
    """The device of the tests marked ``cuda``: CUDA, or ``$GAZELM_TEST_DEVICE`` (``cpu`` checks those
    tests' code without a GPU, as ``GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh`` does)."""
    return torch.device(os.environ.get("GAZELM_TEST_DEVICE", "cuda"))


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``cuda`` are skipped where no CUDA GPU is (CI); benchmarks/gpu_check.sh runs them.
    Under pytest-xdist (``-n 2 --dist loadgroup``) the tests of the session's ``doc_runner`` share one
    worker, so each documentation sweep runs once, not once per worker."""
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if "doc_runner" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group("doc_runner"))
    if gpu_device().type != "cuda" or torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (benchmarks/gpu_check.sh runs it on one)")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


def real_data_dir() -> Path:
    return Path(os.environ.get("GAZELM_DATA_DIR") or ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$GAZELM_DATA_DIR`` (default ``../shared/data``); tests skip where it is absent."""
    path = real_data_dir()
    if not path.is_dir():
        pytest.skip(f"real research data not found at {path} (set GAZELM_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def sandbox() -> None:
    """Skips the test where pass@k's OS sandbox (bubblewrap) cannot start (e.g. no user namespaces)."""
    from gazelm.sandbox import Sandbox, SandboxUnavailableError

    try:
        Sandbox().ready()
    except SandboxUnavailableError as err:
        pytest.skip(f"bubblewrap cannot run here: {err}")


@pytest.fixture(scope="session")
def shared_cache() -> Path:
    """One cache (tokenizers, tokenized data, stdlib index) shared by tests and sessions.

    Every entry is keyed by a hash of what produced it, so sharing is safe; it lives in
    the project's git-ignored ``.cache/tests`` (``GAZELM_TEST_CACHE`` overrides).
    """
    path = Path(os.environ.get("GAZELM_TEST_CACHE") or ROOT / ".cache" / "tests")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def doc_runner(tmp_path_factory, shared_cache: Path):
    """Runs the documentation's command lines (tests/docs/commands.yaml), each once per session."""
    from tests.docs.runner import Runner

    return Runner(tmp_path_factory.mktemp("docs"), shared_cache)
