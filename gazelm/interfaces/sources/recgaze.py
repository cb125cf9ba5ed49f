"""RecGaze (de Leon-Martinez et al., SIGIR 2025): carousel movie selection with eye tracking.

Reads the public dataset in its documented layout (github.com/santideleon/RecGaze_Dataset,
``README.md``; the gaze files are on Zenodo, record 15270518), from one folder ``path``:
``summary_feedback.csv`` (fixations, clicks and cursor events merged on one timeline),
``click_feedback.csv`` (the last movie selection click per user and screen),
``item_features.csv`` (the movies of every screen) and ``user_features.csv`` (profiles);
``geometry`` is the study's ``aoi_data.csv`` (default: ``path/aoi_data.csv``).

One trial per click session (user × screen with a final movie click):

- **The page** is the 3 carousel rows × 5 posters around the click (FixATE's page): the
  clicked carousel and the two neighbouring rows (``first_row`` … ``first_row + 2``) whose
  displayed posters hold the most fixation dwell in the session — ties: the window with the
  clicked row in the middle, then the upper one. Each row shows the five posters of its
  horizontal page at the click: page 0 at load, +1 per Forward click on that carousel, −1 per
  Backward click, modulo 3 ("a third [swipe] returns to 1-5"). The public data has no scroll
  position (FixATE used the non-public file for it), hence this rule.
- **Dwell per slot**: the durations of the session's fixations on the movie shown in that slot
  (``Fixation_AOI_*`` columns with ``fixation_aoi: strict``; with ``closest`` the
  ``Fixation_AOI_Closest_*`` columns, which also assign fixations within 60 px of a poster).
  Fixations elsewhere are counted by where they fell: another poster (another row, or a page
  of the row not shown at the click), a genre heading, a swipe button, the background, no AOI
  (``counts["fixations"]`` = all fixations of the kept trials = the sum of those categories).
- **Cursor dwell** per slot (optional target): ``Cursor_Duration`` (seconds, ×1000) of cursor
  events on those movies.
- **The answer**: the clicked slot's letter (A–O, row by row).
- **Prompt fields**: ``profile`` = ``Top_genre: …, Preferred_genres: …`` (FixATE's user text).

Quirks of the data handled here (README "Missing or Erroneous Data" and the column notes):
failed direct-search screens (KINIT_18 {38}, KINIT_21 {38}, KINIT_28 {36, 37, 39}, KINIT_46
{36}, KINIT_61 {38}) are skipped when screens 36–40 are requested; sessions whose final
click is documented as missing (KINIT_21 {18}, KINIT_51 {3}, UvA_4 {20}) have no answer and
are skipped and counted apart from sessions without any selection; the README spells the
users ``KINIT_`` where the files say ``KInIT_`` (matched without case); fixation durations
are in ms, cursor and click durations in seconds; an event exists only where its columns are
not NA; genre names differ between files ("Comedies"/"Comedy", "Dramas"/"Drama",
"Sci-fi"/"Sci-Fi"). Screens 36–40 (direct search) are excluded by default, as in FixATE.
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.interfaces.carousel import COLUMNS, ROWS_SHOWN, carousel_page, read_carousel_geometry
from gazelm.interfaces.page import TrialSet, VisualTrial
from gazelm.interfaces.sources import missing_paths, register_study
from gazelm.interfaces.splits import screen_split

FILES = {"summary": "summary_feedback.csv", "clicks": "click_feedback.csv", "items": "item_features.csv",
         "users": "user_features.csv"}
PAGES_PER_ROW = 3
FAILED_DIRECT_SEARCH = {("kinit_18", 38), ("kinit_21", 38), ("kinit_28", 36), ("kinit_28", 37), ("kinit_28", 39),
                        ("kinit_46", 36), ("kinit_61", 38)}
MISSING_FINAL_CLICK = {("kinit_21", 18), ("kinit_51", 3), ("uva_4", 20)}
GENRE_NAMES = {"comedies": "Comedy", "dramas": "Drama", "sci-fi": "Sci-Fi"}
PERMUTATION_FILES = ((range(1, 31), "final_balanced_carousel_permutations_for_free_browsing.json"),
                     (range(31, 36), "final_balanced_carousel_permutations_for_semi_free.json"),
                     (range(36, 41), "final_balanced_carousel_permutations_for_direct_search.json"))
FIXATION_KINDS = {"movie": "other_poster", "genre": "genre_heading", "forward": "swipe_button",
                  "backward": "swipe_button", "background": "background"}
EVENT = ("type", "Carousel_position", "Movie_position_in_carousel")  # after Fixation_AOI_, Cursor_AOI_, …
STRICT, CLOSEST = "Fixation_AOI_", "Fixation_AOI_Closest_"
REQUIRED = {
    "summary": ("UserID", "TaskID", "Timestamp", "Fixation_Duration", *(f"{STRICT}{c}" for c in EVENT),
                "Click_AOI_type", "Click_AOI_Carousel_position", "Cursor_Duration",
                *(f"Cursor_AOI_{c}" for c in EVENT)),
    "clicks": ("UserID", "TaskID", "Timestamp", "Click_AOI_type", "Click_AOI_MovieID",
               "Click_AOI_Movie_position_in_carousel", "Click_AOI_Carousel_position"),
    "items": ("TaskID", "Carousel_position", "Carousel_genre", "MovieID", "Movie_position_in_carousel",
              "TMDB_title", "TMDB_genres"),
    "users": ("UserID", "Top_genre", "Preferred_genres"),
}
NA = {"", "na", "nan", "none", "null"}


def user_key(user: str) -> str:
    """Case-insensitive user id (the README writes ``KINIT_18`` for the files' ``KInIT_18``)."""
    return str(user).strip().lower()


def genre_name(name: str) -> str:
    name = str(name).strip()
    return GENRE_NAMES.get(name.lower(), name)


def _value(v: Any) -> str | None:
    s = str(v).strip()
    return None if s.lower() in NA else s


def _number(v: Any, path: Path, row: int, field: str) -> float | None:
    s = _value(v)
    if s is None:
        return None
    try:
        x = float(s)
    except ValueError:
        raise GazelmInputError(f"not a number: {s!r}", path=path, row=row, field=field) from None
    if math.isnan(x):
        return None
    return x


def _integer(v: Any, path: Path, row: int, field: str) -> int | None:
    x = _number(v, path, row, field)
    return None if x is None else int(x)


def read_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A CSV as strings (nothing NA-converted), with a ``_row`` column (file line number)."""
    if not path.exists():
        raise GazelmInputError("RecGaze file not found (download the study from Zenodo record 15270518 and set "
                               "data.source.path)", path=path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise GazelmInputError(f"unreadable CSV: {err}", path=path) from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise GazelmInputError(f"missing columns: {', '.join(missing)}", path=path, row=1)
    table["_row"] = range(2, len(table) + 2)
    return table


def _screen_genres(permutations: Path | None) -> dict[int, list[str]]:
    """Screen → carousel genres top to bottom, from the study's permutation files (if given)."""
    out: dict[int, list[str]] = {}
    if permutations is None:
        return out
    for screens, name in PERMUTATION_FILES:
        file = Path(permutations) / name
        if not file.exists():
            continue
        try:
            orders = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise GazelmInputError(f"not JSON: {err}", path=file) from None
        for screen, order in zip(screens, orders):
            out[screen] = [genre_name(g) for g in order]
    return out


def numeric_column(table: pd.DataFrame, column: str, path: Path) -> "pd.Series":
    """A column as floats (NaN where NA); a value that is neither NA nor a number names its row."""
    text = table[column].astype(str).str.strip()
    na = text.str.lower().isin(NA)
    values = pd.to_numeric(text.where(~na), errors="coerce")
    bad = values.isna() & ~na
    if bad.any():
        first = bad.idxmax()
        raise GazelmInputError(f"not a number: {table.at[first, column]!r}", path=path,
                               row=int(table.at[first, "_row"]), field=column)
    return values


def kind_column(table: pd.DataFrame, column: str) -> "pd.Series":
    """An AOI type column lowercased, ``""`` for NA."""
    text = table[column].astype(str).str.strip().str.lower()
    return text.where(~text.isin(NA), "")


class _Events:
    """The parsed event columns of ``summary_feedback.csv`` (one vectorised pass over the file)."""

    def __init__(self, table: pd.DataFrame, path: Path, fixation_prefix: str):
        self.time = numeric_column(table, "Timestamp", path).fillna(-math.inf).to_numpy()
        self.fix_duration = numeric_column(table, "Fixation_Duration", path).to_numpy()
        closest = kind_column(table, f"{fixation_prefix}type")
        use = (closest != "").to_numpy()  # closest-AOI columns where filled, else the strict ones
        self.fix_kind = closest.where(use, kind_column(table, f"{STRICT}type")).to_numpy()
        self.fix_carousel, self.fix_position = (
            numeric_column(table, f"{fixation_prefix}{c}", path).where(use, numeric_column(table, f"{STRICT}{c}", path))
            .to_numpy() for c in EVENT[1:])
        self.click_kind = kind_column(table, "Click_AOI_type").to_numpy()
        self.click_carousel = numeric_column(table, "Click_AOI_Carousel_position", path).to_numpy()
        self.cursor_ms = (numeric_column(table, "Cursor_Duration", path) * 1000.0).to_numpy()  # seconds in the file
        self.cursor_kind = kind_column(table, "Cursor_AOI_type").to_numpy()
        self.cursor_carousel, self.cursor_position = (numeric_column(table, f"Cursor_AOI_{c}", path).to_numpy()
                                                      for c in EVENT[1:])


def _int(x: float) -> int | None:
    return None if math.isnan(x) else int(x)


class _Session:
    """Events of one user × screen (rows ``index`` of :class:`_Events`, in file order)."""

    def __init__(self, events: _Events, index: Sequence[int]):
        index = sorted(index)
        e = events
        self.fixations = [(float(e.fix_duration[i]), e.fix_kind[i] or None, _int(e.fix_carousel[i]),
                           _int(e.fix_position[i])) for i in index if not math.isnan(e.fix_duration[i])]
        self.swipes = [(float(e.time[i]), e.click_kind[i], int(e.click_carousel[i])) for i in index
                       if e.click_kind[i] in ("forward", "backward") and not math.isnan(e.click_carousel[i])]
        self.cursor = [(float(e.time[i]), float(e.cursor_ms[i]), e.cursor_kind[i] or None, _int(e.cursor_carousel[i]),
                        _int(e.cursor_position[i])) for i in index if not math.isnan(e.cursor_ms[i])]

    def pages_at(self, time: float) -> dict[int, int]:
        """Horizontal page (0–2) of every carousel after the swipes before ``time``."""
        pages: dict[int, int] = defaultdict(int)
        for t, kind, carousel in self.swipes:
            if t < time:
                pages[carousel] = (pages[carousel] + (1 if kind == "forward" else -1)) % PAGES_PER_ROW
        return pages


def slot_of(carousel: int | None, position: int | None, first_row: int, pages: dict[int, int]) -> int | None:
    """The page slot (0–14) of movie ``position`` (1–15) of ``carousel``, or None if not shown."""
    if carousel is None or position is None or not first_row <= carousel < first_row + ROWS_SHOWN:
        return None
    column = position - 1 - COLUMNS * pages[carousel]
    return (carousel - first_row) * COLUMNS + column if 0 <= column < COLUMNS else None


def choose_window(session: _Session, clicked_row: int, pages: dict[int, int], n_rows: int) -> int:
    """The first row of the three-row page (see the module docstring)."""
    candidates = range(max(1, clicked_row - ROWS_SHOWN + 1), min(clicked_row, n_rows - ROWS_SHOWN + 1) + 1)

    def dwell(first: int) -> float:
        return sum(d for d, kind, c, p in session.fixations
                   if kind == "movie" and slot_of(c, p, first, pages) is not None)

    return min(candidates, key=lambda first: (-dwell(first), abs(first - (clicked_row - 1)), first))


def missing_files(path: str | Path | None = None, geometry: str | Path | None = None, **_: Any) -> list[str]:
    """The Zenodo CSVs and ``aoi_data.csv`` that :func:`load` reads, where they are not."""
    if path is None:
        return ["recgaze needs data.source.path (the folder of the Zenodo CSVs)"]
    root = Path(path)
    return missing_paths("recgaze (Zenodo record 15270518 and aoi_data.csv of github.com/santideleon/RecGaze_Dataset)",
                         *(root / name for name in FILES.values()),
                         Path(geometry) if geometry else root / "aoi_data.csv")


@register_study("recgaze", missing_files=missing_files)
def load(path: str | Path, geometry: str | Path | None = None, permutations: str | Path | None = None,
         fixation_aoi: str = "strict", signal: str = "fixation", require_both_signals: bool = False,
         screens: Sequence[int] = (1, 35), split_seed: int = 42, page_size: Sequence[int] = (1100, 600),
         users: Iterable[str] | None = None, max_trials: int | None = None) -> TrialSet:
    """RecGaze click sessions as trials (see the module docstring).

    ``screens``: ``[first, last]`` screen ids kept (FixATE: 1–35). ``signal``: the dwell a trial
    must have on its page to be kept (``fixation`` or ``cursor``); ``require_both_signals``
    keeps only trials with both (FixATE's ``SIGNAL_INTERSECT``). ``users``: only these users.
    """
    if fixation_aoi not in ("strict", "closest"):
        raise GazelmInputError(f"fixation_aoi must be strict or closest, got {fixation_aoi!r}",
                               field="data.source.fixation_aoi")
    if signal not in ("fixation", "cursor"):
        raise GazelmInputError(f"signal must be fixation or cursor, got {signal!r}", field="data.source.signal")
    root = Path(path)
    geometry_file = Path(geometry) if geometry else root / "aoi_data.csv"
    geo = read_carousel_geometry(geometry_file)
    required = dict(REQUIRED)
    prefix = CLOSEST if fixation_aoi == "closest" else STRICT
    if fixation_aoi == "closest":
        required["summary"] = (*required["summary"], *(f"{CLOSEST}{c}" for c in EVENT))
    tables = {k: read_table(root / name, required[k]) for k, name in FILES.items()}
    screen_genres = _screen_genres(Path(permutations) if permutations else geometry_file.parent)
    first, last = int(screens[0]), int(screens[-1])
    splits = screen_split(split_seed)
    wanted = {user_key(u) for u in users} if users is not None else None

    items: dict[tuple[int, int, int], dict[str, str]] = {}
    row_genres: dict[tuple[int, int], str] = {}
    items_path = root / FILES["items"]
    for rec in tables["items"].to_dict("records"):
        row = int(rec["_row"])
        task = _integer(rec["TaskID"], items_path, row, "TaskID")
        carousel = _integer(rec["Carousel_position"], items_path, row, "Carousel_position")
        position = _integer(rec["Movie_position_in_carousel"], items_path, row, "Movie_position_in_carousel")
        if task is None or carousel is None or position is None:
            continue
        movie = _integer(rec["MovieID"], items_path, row, "MovieID")
        items[(task, carousel, position)] = {"title": _value(rec["TMDB_title"]) or "", "key": str(movie or ""),
                                             "genres": _value(rec["TMDB_genres"]) or "", "image": str(movie or "")}
        if _value(rec["Carousel_genre"]):
            row_genres[(task, carousel)] = genre_name(rec["Carousel_genre"])
    profiles = {user_key(r["UserID"]): r for r in tables["users"].to_dict("records")}

    counts: Counter = Counter()
    summary_path, clicks_path = root / FILES["summary"], root / FILES["clicks"]
    summary = tables["summary"]
    summary["_task"] = numeric_column(summary, "TaskID", summary_path)
    summary["_user"] = summary["UserID"].map(user_key)
    events = _Events(summary, summary_path, prefix)
    finals: dict[tuple[str, int], dict[str, Any]] = {}
    for rec in tables["clicks"].to_dict("records"):
        task = _integer(rec["TaskID"], clicks_path, rec["_row"], "TaskID")
        finals[(user_key(rec["UserID"]), task)] = rec

    trials: list[VisualTrial] = []
    groups = summary.groupby(["_user", "_task"], sort=True, dropna=False).indices
    seen = set()
    for (ukey, task), index in groups.items():
        task = None if math.isnan(task) else int(task)
        seen.add((ukey, task))
        if task is None or not first <= task <= last:
            counts["sessions_outside_screens"] += 1
            continue
        if wanted is not None and ukey not in wanted:
            continue
        counts["sessions_read"] += 1
        user = str(summary["UserID"].iat[int(index[0])]).strip()
        if (ukey, task) in FAILED_DIRECT_SEARCH:
            counts["skipped_failed_direct_search"] += 1
            continue
        final = finals.get((ukey, task))
        if final is None:
            reason = "documented_missing_final_click" if (ukey, task) in MISSING_FINAL_CLICK else "no_selection"
            counts[f"skipped_{reason}"] += 1
            continue
        row = int(final["_row"])
        if (_value(final["Click_AOI_type"]) or "").lower() != "movie":
            counts["skipped_final_click_not_a_movie"] += 1
            continue
        clicked_row = _integer(final["Click_AOI_Carousel_position"], clicks_path, row, "Click_AOI_Carousel_position")
        clicked_pos = _integer(final["Click_AOI_Movie_position_in_carousel"], clicks_path, row,
                               "Click_AOI_Movie_position_in_carousel")
        click_time = _number(final["Timestamp"], clicks_path, row, "Timestamp")
        if clicked_row not in geo.headings or clicked_pos is None or click_time is None:
            raise GazelmInputError(f"a movie click without a valid carousel ({clicked_row}), position "
                                   f"({clicked_pos}) or time", path=clicks_path, row=row)
        session = _Session(events, index)
        pages = session.pages_at(click_time)
        first_row = choose_window(session, clicked_row, pages, max(geo.rows))
        choice = slot_of(clicked_row, clicked_pos, first_row, pages)
        if choice is None:
            counts["skipped_click_not_on_the_displayed_page"] += 1
            continue
        dwell = [0.0] * (ROWS_SHOWN * COLUMNS)
        where: Counter = Counter()  # the session's fixations, by where they fell (counted if it is kept)
        for duration, kind, carousel, position in session.fixations:
            where["fixations"] += 1
            slot = slot_of(carousel, position, first_row, pages) if kind == "movie" else None
            if slot is not None:
                dwell[slot] += duration
                where["fixations_on_slots"] += 1
            else:
                where[f"fixations_on_{FIXATION_KINDS.get(kind or '', 'no_aoi')}"] += 1
        cursor = [0.0] * (ROWS_SHOWN * COLUMNS)
        for _, ms, kind, carousel, position in session.cursor:
            slot = slot_of(carousel, position, first_row, pages) if kind == "movie" else None
            if slot is not None:
                cursor[slot] += ms
        has = {"fixation": sum(dwell) > 0, "cursor": sum(cursor) > 0}
        if not has[signal] or (require_both_signals and not all(has.values())):
            counts[f"skipped_no_{signal if not has[signal] else 'second'}_dwell_on_the_page"] += 1
            continue
        shown_rows = list(range(first_row, first_row + ROWS_SHOWN))
        genres = [row_genres.get((task, r)) or (screen_genres.get(task) or [None] * 10)[r - 1] or "?"
                  for r in shown_rows]
        shown = [items.get((task, r, pages[r] * COLUMNS + c + 1),
                           {"title": f"movie {pages[r] * COLUMNS + c + 1}", "genres": genres[i], "key": "", "image": ""})
                 for i, r in enumerate(shown_rows) for c in range(COLUMNS)]
        page = carousel_page(geo, first_row, shown, genres, tuple(page_size))
        profile = profiles.get(ukey)
        if profile is None:
            counts["trials_without_user_features"] += 1
        fields = {"profile": (f"Top_genre: {profile['Top_genre']}, Preferred_genres: {profile['Preferred_genres']}"
                              if profile else "")}
        counts["trials"] += 1
        counts.update(where)
        trials.append(VisualTrial(
            id=f"recgaze:{user}:{task}", user=user, stimulus=f"screen{task}", page=page, dwell_ms=dwell,
            choice=choice, fields=fields, cursor_ms=cursor, split=splits.get(task, "train"),
            info={"screen": task, "first_row": first_row, "clicked_carousel": clicked_row,
                  "horizontal_pages": [pages[r] for r in shown_rows]}))
        if max_trials is not None and len(trials) >= max_trials:
            break
    counts["sessions_clicked_without_events"] = sum(1 for (u, t) in finals if (u, t) not in seen
                                                    and t is not None and first <= t <= last)
    if not trials:
        raise GazelmInputError(f"no RecGaze trial kept from {root} (counts: {dict(counts)})")
    return TrialSet(trials, counts)
