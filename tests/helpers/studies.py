"""SYNTHETIC RecGaze / AdSERP folders for tests, written once per generator version into the test cache."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import tests.synthetic_studies as synthetic

RECGAZE_USERS = synthetic.RECGAZE_USERS


def _version() -> str:
    return hashlib.sha1(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]


def _cached(kind: str, cache: Path, write) -> tuple[Path, list[dict]]:
    root = cache / "synthetic" / f"{kind}-{_version()}"
    plans_file = root / "plans.json"
    if not plans_file.exists():
        tmp = root.with_name(root.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        plans = write(tmp)
        (tmp / "plans.json").write_text(json.dumps([asdict(p) for p in plans.values()]))
        if root.exists():  # another session got there first
            shutil.rmtree(tmp)
        else:
            tmp.rename(root)
    return root, json.loads(plans_file.read_text())


def recgaze_folder(cache: Path, data_dir: Path) -> tuple[Path, dict[tuple[str, int], synthetic.SessionPlan]]:
    """All 40 screens for 8 users (320 sessions, every documented quirk); plans by (user, screen)."""
    root, plans = _cached("recgaze", cache, lambda out: synthetic.write_synthetic_recgaze(out, data_dir / "recgaze-meta"))
    out = {}
    for p in plans:
        p["pages"] = {int(k): v for k, v in p["pages"].items()}
        p["clicked"] = tuple(p["clicked"])
        out[(p["user"], p["screen"])] = synthetic.SessionPlan(**p)
    return root, out


def adserp_folder(cache: Path, data_dir: Path) -> tuple[Path, dict[str, synthetic.TrialPlan]]:
    """6 participants × 9 trials (every case of ``ADSERP_CASES``); plans by trial name."""
    root, plans = _cached("adserp", cache, lambda out: synthetic.write_synthetic_adserp(out, data_dir / "adserp-meta"))
    out = {}
    for p in plans:
        p["areas"] = [(kind, tuple(box)) for kind, box in p["areas"]]
        out[p["name"]] = synthetic.TrialPlan(**p)
    return root, out
