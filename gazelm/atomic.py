"""Atomic file writes, for caches that several runs share and for checkpoints.

Every write goes to a unique temporary file in the target's own directory and is renamed
onto the target (``os.replace``, atomic on POSIX and Windows within one file system). Two
processes writing the same entry at once each write their own temporary file and both
succeed (the last rename wins; cache entries are keyed by what produced them, so both
contents are equal); a reader sees the old file or the new one, never part of one; a
process killed mid-write leaves at most a ``.<name>.*.tmp`` file, never a truncated target.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp gives 0o600)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path``; write it fully, and on leaving the block
    it is flushed to disk and renamed onto ``path``. On an exception it is removed instead."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(path, text.encode(encoding))
