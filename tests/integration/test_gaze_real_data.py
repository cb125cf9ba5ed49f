"""The gaze pipeline on the real research files in $GAZELM_DATA_DIR (skips without them)."""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from gazelm.code import label_tokens
from gazelm.gaze.priors import fit_label_priors, load_priors
from gazelm.gaze.readers import read_fixations
from gazelm.gaze.studies import study_trials
from gazelm.gaze.weights import row_weights
from tests.helpers.cli import gazelm_subprocess

ROOT = Path(__file__).resolve().parents[2]


def _raw_rows(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as fh:
        return sum(1 for _ in fh) - 1  # minus the header


@pytest.fixture(scope="module")
def itrace_dir(data_dir):
    return data_dir / "itrace-java" / "fixations" / "P10-Dats"


@pytest.fixture(scope="module")
def eyelink(data_dir):
    root = data_dir / "eyelink-python"
    return root / "fixation_reports", root / "stimuli" / "IAs"


def test_itrace_row_counts_per_file(itrace_dir):
    table = read_fixations(itrace_dir, "itrace")
    files = table.attrs["files"]
    assert len(files) == len(list(itrace_dir.glob("*/*.csv.gz"))) > 0
    for entry in files:
        assert entry["read"] == _raw_rows(Path(entry["file"])) == entry["mapped"] + entry["unmapped"]
        assert (table["source_file"] == entry["file"]).sum() == entry["read"]


def test_itrace_tokens_agree_with_line_col(itrace_dir):
    t = read_fixations(itrace_dir, "itrace")
    named = t[t["token"].notna() & t["syntactic_category"].str.endswith("->name")
              & (t["token_line"] == t["token_end_line"])]
    single = named[(named["token_end_col"] - named["token_col"] + 1) == named["token"].str.len()]
    assert len(single) > 1000
    assert (single["line"] == single["token_line"]).all()
    inside = (single["col"] >= single["token_col"]) & (single["col"] <= single["token_end_col"] + 1)
    assert inside.mean() > 0.99, single[~inside][["token", "line", "col", "token_col", "token_end_col"]].head()


def test_itrace_priors_fit(itrace_dir):
    trials = study_trials(itrace_dir, "itrace")
    assert trials and all(t.stimulus.endswith(".java") for t in trials)
    pri = fit_label_priors(trials)
    for b in pri.betas.values():
        assert b.alpha == b.fixated + 1 and b.beta == b.total - b.fixated + 1 and 0 < b.fixated <= b.total
    assert all(v >= 5 for v in pri.ngram_counts.values()) and any(len(k) == 3 for k in pri.ngram_counts)


def test_eyelink_counts_spaces_and_every_labelled_fixation_resolves(eyelink):
    reports, ias = eyelink
    spaced = reports / "fix_report_P104 2.txt.gz"
    assert spaced.exists()
    table = read_fixations(reports, "eyelink", interest_areas=ias)
    for entry in table.attrs["files"]:
        assert entry["read"] == _raw_rows(Path(entry["file"]))
    assert str(spaced) in {e["file"] for e in table.attrs["files"]}
    has_ias = table["stimulus"].map(lambda s: (ias / f"IA-{s.replace('10-117-', '10-177-')}.ias").exists())
    labelled = table[table["aoi"].notna() & has_ias]
    assert labelled["stimulus"].str.startswith("10-117-").any()  # the 10-117 ↔ IA-10-177 quirk
    assert labelled["token"].notna().all() and labelled["char"].notna().all()
    assert table.attrs["counts"]["unmapped"] == int(table["token"].isna().sum())


def test_eyelink_fixations_map_to_tree_sitter_tokens(eyelink):
    reports, ias = eyelink
    trials = study_trials(reports / "fix_report_P104 2.txt.gz", "eyelink", interest_areas=ias)
    assert trials
    for t in trials:
        assert t.count.sum() == len(t.scanpath) > 0
        assert t.attention().sum() == pytest.approx(1.0)


def _translation_rows(data_dir):
    path = data_dir / "eyemulator" / "dataset_sample" / "translation_train_sample.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_weights_on_sample_rows_by_hand(data_dir):
    """Numbers from priors/combined: Beta(α, β) of function declaration (2900, 1587),
    parameter (1800, 1576), variable declaration (4774, 5295); counts: bigram
    (function declaration, parameter) 2706, trigram (function declaration, parameter,
    variable declaration) 1634, monograms parameter 5973, variable declaration 18665."""
    pri = load_priors(data_dir / "eyemulator" / "priors" / "combined")
    rows = _translation_rows(data_dir)
    w0 = row_weights(rows[0], pri)
    assert w0[2] == pytest.approx(3 + 1 / math.log(2706 + 2) + 2900 / (2900 + 1587))
    assert w0[4] == pytest.approx(3 + 1 / math.log(5973 + 2) + 1800 / (1800 + 1576))
    assert [w for j, w in enumerate(w0) if j not in (2, 4)] == [1.0] * (len(w0) - 2)
    w3 = row_weights(rows[3], pri)
    assert w3[2] == pytest.approx(3 + 1 / math.log(1634 + 2) + 2900 / (2900 + 1587))
    assert w3[3] == pytest.approx(3 + 1 / math.log(1634 + 2) + 1800 / (1800 + 1576))
    assert w3[6] == pytest.approx(3 + 1 / math.log(18665 + 2) + 4774 / (4774 + 5295))
    assert w3[0] == w3[1] == 1.0
    assert row_weights(rows[3], pri, w_base=2.0)[6] == pytest.approx(w3[6] - 1.0)


def test_release_priors_and_reader(data_dir):
    from gazelm.code import SEMANTIC_LABELS

    for cond, n_labels in (("combined", 19), ("reading", 19), ("writing", 18)):
        pri = load_priors(data_dir / "eyemulator" / "priors" / cond)
        assert len(pri.betas) == n_labels and set(pri.betas) <= set(SEMANTIC_LABELS)
        assert pri.ngram_counts and all(len(k) <= 3 for k in pri.ngram_counts)
    table = read_fixations(data_dir / "eyemulator" / "dataset_sample", "eyemulator")
    assert len(table.attrs["files"]) == 9 and table["label"].notna().all()


def test_labels_on_sample_code(data_dir):
    rows = _translation_rows(data_dir)
    for r in rows:
        toks = label_tokens(r["code"], "java")
        assert all(r["code"][t.start:t.end] == t.text for t in toks)
        assert sum(t.label is not None for t in toks) > 0.5 * len(toks)


@pytest.mark.parametrize("name", ["none", "eyemulator_priors", "itrace_java", "eyelink_python", "from_file"])
def test_gaze_group_composes_and_instantiates(data_dir, name):
    from hydra.utils import instantiate

    from tests.helpers.compose import compose_config

    cfg = compose_config([f"gaze={name}"])
    if name == "none":
        assert not cfg.gaze
        return
    provider = instantiate(cfg.gaze)
    rows = _translation_rows(data_dir)
    ann = provider.annotate(rows[0]["code"], "java", f"{rows[0]['code_content_hash']}-1")
    assert ann is not None and len(ann.spans) == len(ann.weights)
    assert provider.annotate("Translate this.", "text", "x") is None


def test_eyelink_provider_attention_for_its_snippets(data_dir):
    from gazelm.gaze.providers import EyelinkPythonProvider

    code = (data_dir / "eyelink-python" / "stimuli" / "code_snippets" / "original_naming" / "A34-6.py").read_text()
    ann = EyelinkPythonProvider().annotate(code, "python", "A34-6")
    assert ann.attention is not None and sum(ann.attention) == pytest.approx(1.0, abs=1e-4)
    assert EyelinkPythonProvider().annotate(code + "\n# changed\n", "python", "x").attention is None


def test_cli_read_weights_simulate_heatmap(data_dir, tmp_path):
    spaced = data_dir / "eyelink-python" / "fixation_reports" / "fix_report_P104 2.txt.gz"
    r = gazelm_subprocess("gaze", "read", str(spaced), "--format", "eyelink", "--interest-areas",
                          str(data_dir / "eyelink-python" / "stimuli" / "IAs"), timeout=120)
    assert r.returncode == 0, r.stderr
    assert str(_raw_rows(spaced)) in r.stdout and "outside every interest area" in r.stdout
    rows = data_dir / "eyemulator" / "dataset_sample" / "translation_train_sample.jsonl"
    out = tmp_path / "w.jsonl"
    r = gazelm_subprocess("gaze", "weights", "--input", str(rows), "--priors",
                          str(data_dir / "eyemulator" / "priors" / "combined"), "--out", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    first = json.loads(out.read_text().splitlines()[0])
    assert len(first["weights"]) == len(first["code_tokens"]) and first["weights"][2] > 3
    code = tmp_path / "A.java"
    code.write_text(json.loads(rows.read_text().splitlines()[3])["code"])
    r = gazelm_subprocess("gaze", "simulate", str(code), "--language", "java", "--seed", "3", timeout=120)
    assert r.returncode == 0, r.stderr and "tokens on the pseudo-scanpath" in r.stdout
    png = tmp_path / "h.png"
    r = gazelm_subprocess("gaze", "heatmap", str(code), "--language", "java", "--out", str(png), timeout=120)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = gazelm_subprocess("gaze", "read", str(tmp_path / "missing"), "--format", "itrace", timeout=120)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_shipped_eyelink_priors_reproduce(data_dir, tmp_path):
    """`gazelm gaze fit-priors` on the EyeLink study gives exactly the shipped tables."""
    root = data_dir / "eyelink-python"
    out = tmp_path / "eyelink_python"
    r = gazelm_subprocess("gaze", "fit-priors", str(root / "fixation_reports"), "--format", "eyelink",
                          "--interest-areas", str(root / "stimuli" / "IAs"), "--out", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    shipped = ROOT / "gazelm" / "resources" / "priors" / "eyelink_python"
    for name in ("beta_distribution.json", "monogram_counts.json", "bigram_counts.json", "trigram_counts.json",
                 "attention.json"):
        assert json.loads((out / name).read_text()) == json.loads((shipped / name).read_text()), name
    assert (shipped / "PROVENANCE.md").exists() and (ROOT / "gazelm/resources/priors/itrace_java/PROVENANCE.md").exists()
