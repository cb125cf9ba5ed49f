"""Reading text files as UTF-8, with an error that names the file and the row of a bad byte.

One helper for every reader (task data, JSONL, eye-tracking files): a file that is not
UTF-8 stops with the file, its line and the offending byte, never a ``UnicodeDecodeError``.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from gazelm.errors import GazelmInputError


def decode_utf8(raw: bytes, path: str | Path, row: int | None = None) -> str:
    """``raw`` as UTF-8 text (a leading BOM dropped); otherwise a :class:`GazelmInputError` naming
    the file, the row (``row``, or the line of the first bad byte), the column and the byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        where = row if row is not None else raw.count(b"\n", 0, err.start) + 1
        raise GazelmInputError(f"not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start - line_start + 1})",
                               path=path, row=where) from None


def read_text(path: str | Path) -> str:
    """The whole file (gzip-compressed if it ends in ``.gz``) as UTF-8 text; an unreadable,
    truncated or non-UTF-8 file is a :class:`GazelmInputError`."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise GazelmInputError(f"cannot read file (truncated or corrupt): {exc}", path=path) from None
    return decode_utf8(data, path)
