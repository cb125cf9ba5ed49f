"""Reading text files as UTF-8, with an error that names the file and the row of a bad byte."""
from __future__ import annotations

from pathlib import Path

from gazelm.errors import GazelmInputError


def decode_utf8(raw: bytes, path: str | Path, row: int | None = None) -> str:
    """``raw`` as UTF-8 text; otherwise a :class:`GazelmInputError` naming the file, the row
    (``row``, or the line of the first bad byte) and the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        where = row if row is not None else raw.count(b"\n", 0, err.start) + 1
        raise GazelmInputError(f"not UTF-8 text: byte 0x{raw[err.start]:02x} at column {err.start - line_start + 1} "
                               "(save the file as UTF-8)", path=path, row=where) from None


def read_utf8(path: str | Path) -> str:
    """The whole file as UTF-8 text (see :func:`decode_utf8`)."""
    return decode_utf8(Path(path).read_bytes(), path)
