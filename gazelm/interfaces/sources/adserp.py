"""AdSERP (Latifzadeh et al., SIGIR 2025): eye and mouse movements on Google result pages.

Reads the dataset in its documented layout (github.com/kayhan-latifzadeh/AdSERP, ``README.md``;
the data is on Zenodo, record 15236546), from the ``data`` folder ``path``: ``participants.csv``
and, per trial ``p004-b1-t3`` (participant, block, trial), ``fixation-data/<trial>.csv``
(``timestamp, FPOGX, FPOGY, FPOGD``: screenshot pixels, ms), ``ad-boundary-data/<trial>.json``
(``native_ad``, ``dd_top``, ``dd_right``: ``location {x, y}``, ``size {width, height}``),
``mouse-movement-data/<trial>.csv`` (evtrack: ``timestamp, xpos, ypos, event, xpath``),
``trial-metadata/<trial>.xml`` (``task`` = ``batch_B_trial_T | query-slug``, ``screen``,
``window``, ``document`` as ``WxH``) and the full-page screenshot ``<trial>.png`` (folder
``full-page-screenshots/``; the README says ``screen-recordings/``, both are looked in).
Optionally ``organic-aoi-data/<trial>.json`` (FixATE's organic-result boxes:
``{"organic": [{rank, title, site, x_left, y_top, x_right, y_bot}]}``) adds organic results.

One trial per page with a click (FixATE's click-AOI samples):

- **The page** is the browser viewport at the click: screenshot rows ``[scroll, scroll + H)``
  with ``H = screen height × s``, ``s = screen width / window width`` (the README's conversion
  of browser to screenshot pixels; 1280 / 1422 on the study's machines) and ``scroll`` the last
  ``scroll`` event's offset before the click (× ``s``), 0 if none. Its slots are the areas of
  interest (ads, and organic results when given) that intersect it, clipped to it, ordered top
  to bottom then left to right, at most ``max_aois`` (25), lettered A, B, … with the letter drawn
  at each area's corner.
- **Dwell** per area: fixation durations from the last scroll before the click to the click
  inside the area (page coordinates); cursor dwell from ``mousemove``/``mouseover`` events
  in that window (time to the next event, position × ``s`` + scroll).
- **The answer**: the area containing the first ``click`` (× ``s`` + scroll).
- **Prompt fields**: ``query`` (the slug with spaces), ``persona`` (from ``participants.csv``).

Documented details handled: trial names ``pNNN-bB-tT``; an ad type with no instance is an
empty list; the README calls the evtrack logs "space-delimited" while its example is
comma-separated (both are read); screenshots in either folder; window and document sizes as
``WxH`` strings (the README's example code reads keys its own parser does not produce).
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.interfaces.page import Page, Slot, TrialSet, VisualTrial
from gazelm.interfaces.sources import missing_paths, register_study
from gazelm.interfaces.splits import per_user_split

TRIAL = re.compile(r"^(p\d+)-b(\d+)-t(\d+)$")
AD_TYPES = ("native_ad", "dd_top", "dd_right")
SCREENSHOT_FOLDERS = ("full-page-screenshots", "screen-recordings")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PARTICIPANT_COLUMNS = ("participant_id", "gender", "age", "english", "education", "pref_device", "pref_website",
                       "online_shopping_freq")


def _size(text: str | None, path: Path, field: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text or "")
    if not m:
        raise GazelmInputError(f"expected WxH, got {text!r}", path=path, field=field)
    return int(m.group(1)), int(m.group(2))


def read_metadata(path: Path) -> dict[str, Any]:
    """``trial-metadata/<trial>.xml`` → query, screen / window / document sizes."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise GazelmInputError(f"unreadable XML: {err}", path=path) from None
    task = (root.findtext("task") or "")
    if "|" not in task:
        raise GazelmInputError(f"expected 'batch_B_trial_T | query-slug', got {task!r}", path=path, field="task")
    slug = task.split("|", 1)[1].strip()
    return {"query": slug.replace("-", " "), "slug": slug, "screen": _size(root.findtext("screen"), path, "screen"),
            "window": _size(root.findtext("window"), path, "window"),
            "document": _size(root.findtext("document"), path, "document")}


def read_csv_any(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A comma- or whitespace-separated file (the README calls the evtrack logs "space-delimited")."""
    if not path.exists():
        raise GazelmInputError("file not found", path=path)
    header = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    sep = "," if "," in header else r"\s+"
    try:
        table = pd.read_csv(path, sep=sep, engine="python" if sep != "," else "c", dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise GazelmInputError(f"unreadable CSV: {err}", path=path) from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise GazelmInputError(f"missing columns: {', '.join(missing)}", path=path, row=1)
    for column in required:
        if column in ("event", "xpath"):
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax())
            raise GazelmInputError(f"not a number: {table[column].iat[row]!r}", path=path, row=row + 2, field=column)
        table[column] = values
    return table


def _json(path: Path) -> Any:
    """A JSON file's content, ``{}`` when the file does not exist."""
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise GazelmInputError(f"not JSON: {err}", path=path) from None


def read_ad_boxes(path: Path) -> list[dict[str, Any]]:
    """Ad areas ``{kind, box: (x1, y1, x2, y2)}`` in screenshot pixels (empty lists allowed)."""
    data = _json(path)
    out = []
    for kind in AD_TYPES:
        for i, ad in enumerate(data.get(kind, [])):
            try:
                x, y = float(ad["location"]["x"]), float(ad["location"]["y"])
                w, h = float(ad["size"]["width"]), float(ad["size"]["height"])
            except (KeyError, TypeError, ValueError):
                raise GazelmInputError("expected location {x, y} and size {width, height}", path=path,
                                       field=f"{kind}[{i}]") from None
            out.append({"kind": kind, "box": (x, y, x + w, y + h), "title": "Sponsored", "site": kind.replace("_", " ")})
    return out


def read_organic_boxes(path: Path) -> list[dict[str, Any]]:
    """FixATE's organic-result areas (optional file), as :func:`read_ad_boxes`."""
    try:
        return [{"kind": "organic", "box": (float(o["x_left"]), float(o["y_top"]), float(o["x_right"]),
                                            float(o["y_bot"])),
                 "title": str(o.get("title") or ""), "site": str(o.get("site") or "")}
                for o in _json(path).get("organic", [])]
    except (KeyError, TypeError, ValueError) as err:
        raise GazelmInputError(f"expected organic [{{x_left, y_top, x_right, y_bot}}]: {err}", path=path) from None


def _persona(row: dict[str, str]) -> str:
    return (f"{row['gender']}, age {row['age']}, {row['english']} English, {row['education']}, prefers "
            f"{row['pref_device']}, shops {row['online_shopping_freq']} on {row['pref_website']}")


def missing_files(path: str | Path | None = None, **_: Any) -> list[str]:
    """``participants.csv`` and ``fixation-data/`` of the data folder, where they are not."""
    if path is None:
        return ["adserp needs data.source.path (the data folder of Zenodo record 15236546)"]
    return missing_paths("adserp (the data folder of Zenodo record 15236546)", Path(path) / "participants.csv",
                         Path(path) / "fixation-data")


@register_study("adserp", missing_files=missing_files)
def load(path: str | Path, signal: str = "fixation", require_both_signals: bool = False, max_aois: int = 25,
         split_seed: int = 42, test_ratio: float = 0.20, val_ratio: float = 0.15, users: Sequence[str] | None = None,
         max_trials: int | None = None) -> TrialSet:
    """AdSERP click trials (see the module docstring)."""
    if signal not in ("fixation", "cursor"):
        raise GazelmInputError(f"signal must be fixation or cursor, got {signal!r}", field="data.source.signal")
    root = Path(path)
    participants_file = root / "participants.csv"
    if not participants_file.exists():
        raise GazelmInputError("AdSERP participants.csv not found (download the data from Zenodo record 15236546 "
                               "and set data.source.path to its data folder)", path=participants_file)
    participants = pd.read_csv(participants_file, dtype=str, keep_default_na=False)
    missing = [c for c in PARTICIPANT_COLUMNS if c not in participants.columns]
    if missing:
        raise GazelmInputError(f"missing columns: {', '.join(missing)}", path=participants_file, row=1)
    personas = {r["participant_id"]: _persona(r) for r in participants.to_dict("records")}
    fixation_dir = root / "fixation-data"
    if not fixation_dir.is_dir():
        raise GazelmInputError("no fixation-data folder", path=fixation_dir)
    counts: Counter = Counter()
    trials: list[VisualTrial] = []
    wanted = set(users) if users is not None else None
    for fixation_file in sorted(fixation_dir.glob("*.csv")):
        name = fixation_file.stem
        m = TRIAL.match(name)
        if not m:
            raise GazelmInputError("trial files are named pNNN-bB-tT", path=fixation_file)
        user = m.group(1)
        if wanted is not None and user not in wanted:
            continue
        counts["trials_read"] += 1
        trial = _trial(root, name, user, personas, max_aois, counts)
        if trial is None:
            continue
        has = {"fixation": sum(trial.dwell_ms) > 0, "cursor": sum(trial.cursor_ms or []) > 0}
        if not has[signal] or (require_both_signals and not all(has.values())):
            counts[f"skipped_no_{signal if not has[signal] else 'second'}_dwell_on_the_areas"] += 1
            continue
        counts["trials"] += 1
        trials.append(trial)
        if max_trials is not None and len(trials) >= max_trials:
            break
    if not trials:
        raise GazelmInputError(f"no AdSERP trial kept from {root} (counts: {dict(counts)})")
    for trial, split in zip(trials, per_user_split([t.user for t in trials], split_seed, test_ratio, val_ratio)):
        trial.split = split
    return TrialSet(trials, counts)


def _trial(root: Path, name: str, user: str, personas: dict[str, str], max_aois: int, counts: Counter
           ) -> VisualTrial | None:
    meta = read_metadata(root / "trial-metadata" / f"{name}.xml")
    scale = meta["screen"][0] / meta["window"][0]
    mouse = read_csv_any(root / "mouse-movement-data" / f"{name}.csv", ("timestamp", "xpos", "ypos", "event", "xpath"))
    mouse = mouse.sort_values("timestamp", kind="stable")
    clicks = mouse[mouse["event"] == "click"]
    if clicks.empty:
        counts["skipped_no_click"] += 1
        return None
    click = clicks.iloc[0]
    t_click = float(click["timestamp"])
    scrolls = mouse[(mouse["event"] == "scroll") & (mouse["timestamp"] <= t_click)]
    scroll = round(float(scrolls["ypos"].iloc[-1]) * scale) if len(scrolls) else 0
    t_start = float(scrolls["timestamp"].iloc[-1]) if len(scrolls) else float(mouse["timestamp"].iloc[0])
    width, height = round(meta["screen"][0]), round(meta["screen"][1] * scale)
    areas = read_organic_boxes(root / "organic-aoi-data" / f"{name}.json") + read_ad_boxes(
        root / "ad-boundary-data" / f"{name}.json")
    visible = []
    for area in areas:
        x1, y1, x2, y2 = area["box"]
        y1c, y2c = max(y1, scroll), min(y2, scroll + height)
        if y2c > y1c and x2 > x1:
            visible.append({**area, "page_box": (x1, y1c, x2, y2c)})
    visible.sort(key=lambda a: (a["page_box"][1], a["page_box"][0]))
    if len(visible) > max_aois:
        counts["areas_beyond_max_aois"] += len(visible) - max_aois
        visible = visible[:max_aois]
    if not visible:
        counts["skipped_no_area_in_the_viewport"] += 1
        return None
    cx, cy = float(click["xpos"]) * scale, float(click["ypos"]) * scale + scroll
    choice = next((i for i, a in enumerate(visible) if _inside(a["page_box"], cx, cy)), None)
    if choice is None:
        counts["skipped_click_outside_every_area"] += 1
        return None
    fixations = read_csv_any(root / "fixation-data" / f"{name}.csv", ("timestamp", "FPOGX", "FPOGY", "FPOGD"))
    window = fixations[(fixations["timestamp"] >= t_start) & (fixations["timestamp"] <= t_click)]
    dwell = [0.0] * len(visible)
    for x, y, d in zip(window["FPOGX"], window["FPOGY"], window["FPOGD"]):
        hit = next((i for i, a in enumerate(visible) if _inside(a["page_box"], x, y)), None)
        counts["fixations"] += 1
        if hit is None:
            counts["fixations_outside_every_area"] += 1
        else:
            dwell[hit] += float(d)
            counts["fixations_on_areas"] += 1
    counts["fixations_outside_the_final_view"] += len(fixations) - len(window)
    cursor = [0.0] * len(visible)
    moves = mouse[mouse["event"].isin(["mousemove", "mouseover"]) & (mouse["timestamp"] >= t_start)
                  & (mouse["timestamp"] <= t_click)]
    times, xs, ys = moves["timestamp"].tolist(), moves["xpos"].tolist(), moves["ypos"].tolist()
    for i in range(len(times) - 1):
        hit = next((k for k, a in enumerate(visible) if _inside(a["page_box"], xs[i] * scale, ys[i] * scale + scroll)),
                   None)
        if hit is not None:
            cursor[hit] += times[i + 1] - times[i]
    shot = next((root / folder / f"{name}.png" for folder in SCREENSHOT_FOLDERS
                 if (root / folder / f"{name}.png").is_file()), None)
    if shot is None:
        counts["pages_drawn_without_a_screenshot"] += 1
    slots = tuple(Slot((a["page_box"][0], a["page_box"][1] - scroll, a["page_box"][2], a["page_box"][3] - scroll),
                       LETTERS[i], a["kind"], f"{a['kind']}:{i}", {"title": a["title"], "site": a["site"]})
                  for i, a in enumerate(visible))
    render = {"kind": "screenshot", "path": str(shot) if shot else "", "crop": [0, scroll, width, scroll + height],
              "labels": "tag", "label_size": 16, "background": [255, 255, 255]}
    if user not in personas:
        counts["trials_without_participant_row"] += 1
    return VisualTrial(id=f"adserp:{name}", user=user, stimulus=meta["slug"], page=Page((width, height), slots, render),
                       dwell_ms=dwell, choice=choice, cursor_ms=cursor,
                       fields={"query": meta["query"], "persona": personas.get(user, "")},
                       info={"trial": name, "scroll": scroll, "scale": scale})


def _inside(box, x: float, y: float) -> bool:
    x1, y1, x2, y2 = box
    return x1 <= x < x2 and y1 <= y < y2
