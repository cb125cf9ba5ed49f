"""``gazelm eval``: score predictions, a checkpoint or a model (Hydra app, ``conf/eval.yaml``).

One mode per run, the first of these keys that is set:

* ``predictions=P`` — a predictions file: ``.txt`` (one per line, with ``references=R.txt``:
  the CodeXGLUE evaluator's format) or ``.jsonl`` rows ``{"id", "prediction", "reference"}``
  (what training writes; ``prediction`` may be a list of samples);
* ``checkpoint=C`` — a gazelm training run's checkpoint, rebuilt from the run's own config;
* ``pretrained=M`` — a Hugging Face model (hub name or local path), no training.

Training-config overrides for the last two go after ``--`` (``gazelm eval checkpoint=C -- data=mbpp``)
or in Hydra's list form (``'overrides=["data=mbpp"]'``). Every mode returns the flat metrics
dict; this module writes ``metrics.json`` and prints the dict as one JSON line, the last
line of output. Bad input is one line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import hydra
from omegaconf import DictConfig, OmegaConf

from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError
from gazelm.jsonl import iter_jsonl

log = logging.getLogger(__name__)


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file; a missing file, a directory or bad bytes name the file and line."""
    path = Path(path)
    if not path.exists():
        raise GazelmInputError("file not found", path=path, field=what)
    if path.is_dir():
        raise GazelmInputError("is a directory; expected a file", path=path, field=what)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise GazelmInputError(f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})", path=path,
                               row=data[:err.start].count(b"\n") + 1, field=what) from None


def read_lines(path: str | Path, what: str = "references") -> list[str]:
    """Lines of a text file without their newline (a final newline adds no empty line)."""
    lines = read_text(path, what).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise GazelmInputError("the file is empty", path=path, field=what)
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass
class Predictions:
    """What ``gazelm eval`` scores: ids, predictions (a string or a list of samples each) and
    the references of each kind (``target``: texts; ``task_id``: HumanEval/MBPP task ids)."""

    ids: list[str]
    predictions: list[Any]
    references: dict[str, list[str]] = field(default_factory=dict)


def _prediction(row: dict[str, Any], path: str | Path, row_no: int) -> Any:
    value = row.get("prediction")
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return value
    raise GazelmInputError("missing, or not a string or a non-empty list of strings", path=path, row=row_no,
                           field="prediction")


def read_jsonl_predictions(path: str | Path, kinds: set[str], with_references: bool) -> Predictions:
    """Rows ``{"id", "prediction", "reference"}``: ``reference`` is required when a metric
    compares against texts and no references file is given; the task id of a row is its
    ``task_id`` or else its ``id``."""
    read_text(path, "predictions")  # exists, is a file, is UTF-8 (named with its line)
    out = Predictions([], [], {kind: [] for kind in kinds})
    for row_no, row in iter_jsonl(path):
        out.predictions.append(_prediction(row, path, row_no))
        out.ids.append(str(row.get("id", row_no - 1)))
        if "target" in kinds and not with_references:
            if not isinstance(row.get("reference"), str):
                raise GazelmInputError("missing or not a string", path=path, row=row_no, field="reference")
            out.references["target"].append(row["reference"])
        if "task_id" in kinds:
            task_id = row.get("task_id", row.get("id"))
            if not isinstance(task_id, str):
                raise GazelmInputError("pass@k needs the task id of every row (HumanEval/<n> or MBPP/<n>) in its "
                                       "`task_id` or `id` field", path=path, row=row_no, field="id")
            out.references["task_id"].append(task_id)
    if not out.predictions:
        raise GazelmInputError("no predictions in the file", path=path, field="predictions")
    return out


def load_predictions(predictions: str, references: str | None, kinds: set[str]) -> Predictions:
    """The predictions file (and references file) given to ``gazelm eval``, aligned row by row."""
    if predictions.endswith(".jsonl"):
        out = read_jsonl_predictions(predictions, kinds, with_references=references is not None)
        if references is not None:
            out.references["target"] = read_lines(references)
    else:
        if references is None:
            raise GazelmInputError("a .txt predictions file needs references=R.txt", path=predictions,
                                   field="references")
        preds = read_lines(predictions, "predictions")
        refs = read_lines(references)
        # one reference per line: texts, or task ids for pass@k
        out = Predictions([str(i) for i in range(len(preds))], preds, {kind: refs for kind in kinds})
    for kind, refs in out.references.items():
        if len(refs) != len(out.predictions):
            raise GazelmInputError(f"{len(out.predictions)} predictions in {predictions} but {len(refs)} references",
                                   path=references or predictions, field="references")
    return out


def metric_names(cfg: DictConfig) -> list[str]:
    return [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)


def metric_options(cfg: DictConfig) -> dict[str, Any]:
    """Options for every metric: ``lang``, ``n_jobs``, the ``execution`` block and ``metric_options``."""
    extra = OmegaConf.to_container(cfg.metric_options, resolve=True) if cfg.get("metric_options") else {}
    if not isinstance(extra, dict):
        raise GazelmInputError(f"expected a mapping such as {{k: [1, 10]}}, got {extra!r}", field="metric_options")
    execution = OmegaConf.to_container(cfg.execution, resolve=True) if cfg.get("execution") else None
    return {"lang": cfg.lang, "n_jobs": cfg.n_jobs, "execution": execution, **extra}


def evaluate_predictions_file(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """Score a predictions file; writes ``predictions.jsonl`` (per-example scores) and ``eval_info.json``."""
    from gazelm.metrics import compute, reference_kind

    names = metric_names(cfg)
    if "codebleu" in names and os.environ.get("PYTHONHASHSEED") is None:
        log.warning("PYTHONHASHSEED is not set: codebleu's data-flow match depends on it; "
                    "set PYTHONHASHSEED=0 for reproducible CodeBLEU")
    data = load_predictions(str(cfg.predictions), None if cfg.references is None else str(cfg.references),
                            {reference_kind(n) for n in names})
    results = compute(names, data.predictions, data.references, **metric_options(cfg))
    flat: dict[str, float] = {}
    for name, result in results.items():
        flat[name] = float(result.value)
        flat.update({f"{name}/{k}": float(v) for k, v in result.extras.items()})
    with open(output_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for i, (ex_id, pred) in enumerate(zip(data.ids, data.predictions)):
            refs = {kind: values[i] for kind, values in data.references.items()}
            scores = {n: r.per_example[i] for n, r in results.items() if r.per_example is not None}
            f.write(json.dumps({"id": ex_id, "prediction": pred, "reference": refs.get("target", refs.get("task_id")),
                                "scores": scores}) + "\n")
    info = {"mode": "predictions", "predictions": str(cfg.predictions), "references": cfg.references,
            "n": len(data.predictions), "lang": cfg.lang, "metrics": names,
            "info": {n: r.info for n, r in results.items() if r.info}}
    (output_dir / "eval_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return flat


def _checkpoint_mode(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    from gazelm.evaluation import evaluate_checkpoint

    return evaluate_checkpoint(cfg, output_dir)


def _pretrained_mode(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    from gazelm.evaluation import evaluate_pretrained

    return evaluate_pretrained(cfg, output_dir)


#: config key → mode; the first key that is set chooses.
MODES: dict[str, Callable[[DictConfig, Path], dict[str, float]]] = {
    "predictions": evaluate_predictions_file,
    "checkpoint": _checkpoint_mode,
    "pretrained": _pretrained_mode,
}


def run(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """Dispatch to the first mode whose key is set; write ``metrics.json``; return the metrics."""
    from gazelm.registry import import_plugins

    import_plugins(cfg.get("plugins"))
    set_keys = [key for key in MODES if cfg.get(key)]
    if not set_keys:
        raise GazelmInputError("nothing to evaluate: give predictions=P.jsonl, or predictions=P.txt "
                               "references=R.txt, or checkpoint=C, or pretrained=<hub name or path>", field="predictions")
    if len(set_keys) > 1:
        raise GazelmInputError(f"give one of {', '.join(MODES)}, not {' and '.join(set_keys)}", field=set_keys[1])
    if cfg.get("overrides") and set_keys[0] == "predictions":
        raise GazelmInputError("training-config overrides apply to checkpoint= and pretrained= evaluation only",
                               field="overrides")
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = MODES[set_keys[0]](cfg, output_dir)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    from gazelm.registry import UnknownNameError

    try:
        metrics = run(cfg, Path(cfg.output_dir))
    except (GazelmInputError, UnknownNameError) as err:  # bad input or config: one clear line, no traceback
        print(f"gazelm eval: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    sys.stdout.flush()
    print(json.dumps(metrics))


def hydra_quote(value: str) -> str:
    """``value`` as a single-quoted Hydra string: quotes escaped, and the backslashes before a
    quote or the end doubled (Hydra leaves every other backslash as it is)."""
    return "'" + re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value) + "'"


def split_train_overrides(argv: list[str]) -> list[str]:
    """``gazelm eval ARGS -- TRAIN OVERRIDES``: the part after ``--`` becomes ``overrides=[...]``."""
    if "--" not in argv:
        return argv
    cut = argv.index("--")
    own, train = argv[:cut], argv[cut + 1:]
    if any(a.split("=", 1)[0].lstrip("+~") == "overrides" for a in own):
        print("gazelm eval: error: give the training overrides either after -- or as overrides=[...], not both",
              file=sys.stderr)
        raise SystemExit(2)
    return [*own, f"overrides=[{','.join(hydra_quote(t) for t in train)}]"] if train else own


def main() -> None:
    """Entry point for ``gazelm eval`` (arguments are Hydra overrides of ``conf/eval.yaml``)."""
    sys.argv = [sys.argv[0], *split_train_overrides(sys.argv[1:])]
    _hydra_main()


if __name__ == "__main__":
    main()
