"""Reading JSON Lines with errors that name the file and line."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from gazelm.errors import GazelmInputError
from gazelm.textfiles import decode_utf8


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-empty line (``.gz`` read transparently).

    A line that is not UTF-8, not valid JSON, or not a JSON object, raises
    :class:`~gazelm.errors.GazelmInputError` naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise GazelmInputError("file not found", path=path)
    if path.is_dir():
        raise GazelmInputError("is a directory, expected a JSON Lines file", path=path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = decode_utf8(raw, path, lineno)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise GazelmInputError(f"malformed JSON ({err.msg} at column {err.colno})", path=path,
                                       row=lineno) from None
            if not isinstance(row, dict):
                raise GazelmInputError("expected a JSON object", path=path, row=lineno)
            yield lineno, row
