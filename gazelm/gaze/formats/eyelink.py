"""EyeLink fixation reports (Data Viewer, tab-separated, either column layout) + ``.ias`` areas.

Options: ``interest_areas`` (folder of ``IA-<snippet>.ias`` files) and ``code_snippets``
(folder of ``<snippet>.py``; default ``<interest_areas>/../code_snippets/original_naming``).
``CURRENT_FIX_INTEREST_AREA_ID`` is resolved to its rectangle's label (``token``), and with
the code to its characters, line and column; ``char`` estimates the character under the eye
from the fixation's x inside the rectangle. Fixations outside every area (id ``.``), on
snippets without an ``.ias``, or read without ``interest_areas`` are kept with no token and
counted by reason. The study's per-trial columns (``KEY_STROKE``, ``correct_option``,
``TIME_TO_ANSWER``, ``CS_UNDERSTANDING``, ``CS_SUBJ_DIFFICULTY``, ``CONCEPT_KNOWN``,
``track_id``) are kept as they are in the report, where its layout has them. Quirks: file names with spaces (``fix_report_P104 2.txt.gz`` is session
``2``), snippet ids ``10-117-*`` whose areas are ``IA-10-177-*``. A row with fewer fields
than the header (a report cut mid-row) is a bad row.

Trials are aligned to the tree-sitter tokens of each snippet's Python code (``char``).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.gaze.fixations import ReadLog, check_duplicate_order, open_text, read_table, require_columns
from gazelm.gaze.formats import FixationFormat, register_format

REQUIRED = ("RECORDING_SESSION_LABEL", "TRIAL_INDEX", "CURRENT_FIX_INDEX", "CURRENT_FIX_DURATION",
            "CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_INTEREST_AREA_ID", "code_snippet_id")
_NO_VALUE = (".", "")
#: per-trial columns of the comprehension study carried into the table as they are in the
#: report (text; ``.`` = none), where the report's layout has them
TRIAL_COLUMNS = ("KEY_STROKE", "correct_option", "TIME_TO_ANSWER", "CS_UNDERSTANDING", "CS_SUBJ_DIFFICULTY",
                 "CONCEPT_KNOWN", "track_id")


@dataclass(frozen=True)
class InterestArea:
    """One ``RECTANGLE`` of an EyeLink ``.ias`` file and the code characters it covers."""

    id: int
    left: float
    top: float
    right: float
    bottom: float
    label: str
    char_start: int | None = None
    char_end: int | None = None
    line: int | None = None
    col: int | None = None


def read_interest_areas(path: Path, code: str | None = None) -> dict[int, InterestArea]:
    """Parse an EyeLink ``.ias`` file; with ``code``, place each area on its characters.

    The rectangles' labels are the code's text in reading order with whitespace split
    differently (``__init__(self,`` may be ``__init__`` + ``(self,``), so each label is
    matched to the next non-whitespace characters of ``code``. A label that does not match
    is a GazelmInputError naming the .ias row.
    """
    areas: dict[int, InterestArea] = {}
    text = open_text(path)
    pos = 0
    line_starts = [0] + [i + 1 for i, ch in enumerate(code or "") if ch == "\n"]
    for rowno, raw in enumerate(text.split("\n"), start=1):
        raw = raw.rstrip("\r")
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) < 6 or parts[0] not in ("RECTANGLE", "ELLIPSE", "FREEHAND"):
            raise GazelmInputError(f"not an interest-area row: {raw[:60]!r}", path=path, row=rowno, field="shape")
        try:
            ia_id = int(parts[1])
            left, top, right, bottom = (float(v) for v in parts[2:6])
        except ValueError as exc:
            raise GazelmInputError(f"bad number: {exc}", path=path, row=rowno, field="rectangle") from exc
        if not all(math.isfinite(v) for v in (left, top, right, bottom)):
            raise GazelmInputError("non-finite coordinate", path=path, row=rowno, field="rectangle")
        label = parts[6] if len(parts) > 6 else ""
        start = end = line = col = None
        if code is not None:
            chars = [c for c in label if not c.isspace()]
            k = 0
            while chars and pos < len(code):
                if code[pos].isspace():
                    pos += 1
                    continue
                if code[pos] != chars[k]:
                    raise GazelmInputError(f"label {label!r} does not match the code at character {pos} "
                                           f"({code[pos:pos + 20]!r})", path=path, row=rowno, field="label")
                if k == 0:
                    start = pos
                k += 1
                pos += 1
                if k == len(chars):
                    end = pos
                    break
            if start is not None:
                li = bisect_right(line_starts, start) - 1
                line, col = li + 1, start - line_starts[li] + 1
        areas[ia_id] = InterestArea(ia_id, left, top, right, bottom, label, start, end, line, col)
    return areas


def snippet_candidates(snippet: str) -> list[str]:
    """``10-117-V1`` ↔ ``IA-10-177-V1``: the data set's README documents this id typo."""
    names = [snippet]
    if snippet.startswith("10-117-"):
        names.append("10-177-" + snippet[len("10-117-"):])
    return names


def default_code_dir(ias_dir: Path | None) -> Path | None:
    if ias_dir is None:
        return None
    candidate = ias_dir.parent / "code_snippets" / "original_naming"
    return candidate if candidate.is_dir() else None


@register_format("eyelink")
class Eyelink(FixationFormat):
    pattern = "*.txt*"
    trial_keys = ("participant", "stimulus", "session", "trial")
    alignment = "char"
    language = "python"

    def __init__(self, interest_areas: str | Path | None = None, code_snippets: str | Path | None = None):
        self.ias_dir = Path(interest_areas) if interest_areas else None
        self.code_dir = Path(code_snippets) if code_snippets else default_code_dir(self.ias_dir)
        self._stimuli: dict[str, tuple[dict[int, InterestArea] | None, str | None]] = {}

    def stimulus(self, snippet: str) -> tuple[dict[int, InterestArea] | None, str | None]:
        """(interest areas, code) of a snippet; ``None`` where there is no ``.ias`` / code."""
        if snippet not in self._stimuli:
            areas = code = None
            for name in snippet_candidates(snippet):
                ias = self.ias_dir / f"IA-{name}.ias" if self.ias_dir else None
                if ias is None or not ias.is_file():
                    continue
                code_path = self.code_dir / f"{name}.py" if self.code_dir else None
                code = open_text(code_path) if code_path and code_path.is_file() else None
                areas = read_interest_areas(ias, code)
                break
            self._stimuli[snippet] = (areas, code)
        return self._stimuli[snippet]

    def code(self, stimulus: str) -> str | None:
        return self.stimulus(stimulus)[1]

    def tokens(self, fixations: pd.DataFrame):
        if self.ias_dir is None:
            raise GazelmInputError("eyelink: aligning fixations to code tokens needs the interest areas "
                                   "(option interest_areas, --interest-areas DIR)", field="interest_areas")
        return super().tokens(fixations)

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        df = read_table(path, "\t", log, quoted=False)  # Data Viewer never quotes; labels may hold "
        require_columns(df, REQUIRED, path)
        log.seen(len(df))
        order = log.number(df, "CURRENT_FIX_INDEX", integer=True, nonnegative=True)
        trial = log.number(df, "TRIAL_INDEX", integer=True, nonnegative=True)
        duration = log.number(df, "CURRENT_FIX_DURATION", nonnegative=True)
        x = log.number(df, "CURRENT_FIX_X", allow_missing=_NO_VALUE)
        y = log.number(df, "CURRENT_FIX_Y", allow_missing=_NO_VALUE)
        ia = log.number(df, "CURRENT_FIX_INTEREST_AREA_ID", allow_missing=_NO_VALUE, integer=True,
                        nonnegative=True)
        stem = path.name.split(".txt")[0]
        session = stem.split(" ", 1)[1] if " " in stem else "1"
        out = pd.DataFrame({
            "participant": df["RECORDING_SESSION_LABEL"], "stimulus": df["code_snippet_id"],
            "trial": trial.map(lambda v: "" if pd.isna(v) else str(int(v))), "order": order,
            "duration_ms": duration, "line": None, "col": None, "token": None, "x": x, "y": y,
            "aoi": pd.Series([None if pd.isna(v) else str(int(v)) for v in ia], index=df.index, dtype=object),
            "session": session, "source_file": str(path), "source_row": df["source_row"],
        }, index=df.index)
        out = check_duplicate_order(log.drop_marked(out), ["participant", "session", "trial"], log)
        places = [self._place(snippet, aoi, xv, row, index, log)
                  for snippet, aoi, xv, row, index in zip(out["stimulus"], out["aoi"], out["x"], out["source_row"],
                                                          out.index)]
        out = log.drop_marked(out.assign(
            token=[p[0] for p in places], line=[p[1] for p in places], col=[p[2] for p in places],
            char_start=pd.array([p[3] for p in places], dtype="Int64"),
            char_end=pd.array([p[4] for p in places], dtype="Int64"),
            char=pd.array([p[5] for p in places], dtype="Int64")))
        return out.assign(**{col: df.loc[out.index, col] for col in TRIAL_COLUMNS if col in df})

    def _place(self, snippet: str, aoi: str | None, x: float, row: int, index, log: ReadLog) -> tuple:
        """(token, line, col, char_start, char_end, char) of one fixation; misses counted."""
        none = (None,) * 6
        if aoi is None or pd.isna(aoi):
            log.miss("outside every interest area")
            return none
        if self.ias_dir is None:
            log.miss("no interest_areas folder given")
            return none
        areas, _ = self.stimulus(snippet)
        if areas is None:
            log.miss("no .ias for snippet")
            return none
        a = areas.get(int(aoi))
        if a is None:
            log.reject(f"interest area {aoi} is not in the .ias of {snippet!r}", row=int(row),
                       field="CURRENT_FIX_INTEREST_AREA_ID", reason="interest area id not in .ias", index=index)
            return none
        char = None
        if a.char_start is not None and a.char_end is not None:
            width = max(a.right - a.left, 1e-9)
            frac = 0.5 if pd.isna(x) else min(max((x - a.left) / width, 0.0), 1.0 - 1e-9)
            char = a.char_start + int(frac * (a.char_end - a.char_start))
        return a.label, a.line, a.col, a.char_start, a.char_end, char
