"""Shared fixtures: the real-data folder, offline settings, composing the real configs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


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
def shared_cache(tmp_path_factory) -> Path:
    """One cache (tokenizers, tokenized data, stdlib index) for the whole test session."""
    return tmp_path_factory.mktemp("gazelm-cache")
