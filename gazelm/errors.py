"""Errors for bad input: each names the file, row (line) and field that is wrong."""
from __future__ import annotations

from pathlib import Path


class GazelmInputError(ValueError):
    """Bad input data or config. The message says where (file, row, field) and what."""

    def __init__(self, message: str, *, path: str | Path | None = None, row: int | None = None,
                 field: str | None = None):
        self.path, self.row, self.field = path, row, field
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
