"""``gazelm eval``: score predictions (Hydra app, ``conf/eval.yaml``).

Modes are dispatched from :data:`MODES`, the first whose config key is set:

* ``predictions`` — a predictions file (``.txt`` one per line with ``references=R.txt``,
  the CodeXGLUE evaluator's format, or ``.jsonl`` rows ``{"id", "prediction", "reference"}``);
* checkpoint / Hugging Face model evaluation on a task's split registers itself here
  (key ``checkpoint`` or ``model``) from the training side.

Every mode returns the flat metrics dict; this module writes ``metrics.json`` to the
output dir and prints the dict as one JSON line, the last line of output.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import hydra
from omegaconf import DictConfig, OmegaConf

from gazelm.errors import GazelmInputError
from gazelm.jsonl import iter_jsonl
from gazelm.metrics import compute

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
log = logging.getLogger(__name__)


def read_lines(path: str | Path) -> list[str]:
    """Lines of a text file without their newline (a final newline adds no empty line)."""
    path = Path(path)
    if not path.exists():
        raise GazelmInputError("file not found", path=path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_jsonl_predictions(path: str | Path, need_reference: bool) -> tuple[list[str], list[str], list[str]]:
    """``(ids, predictions, references)`` from JSONL rows ``{"id", "prediction", "reference"}``."""
    ids, preds, refs = [], [], []
    for row_no, row in iter_jsonl(path):
        for key in ("prediction",) + (("reference",) if need_reference else ()):
            if not isinstance(row.get(key), str):
                raise GazelmInputError("missing or not a string", path=path, row=row_no, field=key)
        ids.append(str(row.get("id", row_no - 1)))
        preds.append(row["prediction"])
        refs.append(row.get("reference", ""))
    return ids, preds, refs


def load_pairs(predictions: str, references: str | None) -> tuple[list[str], list[str], list[str]]:
    """Ids, predictions and references from the files given to ``gazelm eval``."""
    if not Path(predictions).exists():
        raise GazelmInputError("predictions file not found", path=predictions, field="predictions")
    if predictions.endswith(".jsonl"):
        ids, preds, refs = read_jsonl_predictions(predictions, need_reference=references is None)
        if references is not None:
            refs = read_lines(references)
    else:
        if references is None:
            raise GazelmInputError("a .txt predictions file needs references=R.txt", path=predictions,
                                   field="references")
        preds, refs = read_lines(predictions), read_lines(references)
        ids = [str(i) for i in range(len(preds))]
    if len(preds) != len(refs):
        raise GazelmInputError(f"{len(preds)} predictions in {predictions} but {len(refs)} references",
                               path=references or predictions, field="references")
    return ids, preds, refs


def evaluate_predictions_file(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """Score a predictions file; writes ``predictions.jsonl`` (per-example scores) and ``eval_info.json``."""
    names = [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)
    if "codebleu" in names and os.environ.get("PYTHONHASHSEED") is None:
        log.warning("PYTHONHASHSEED is not set: codebleu's data-flow match depends on it; "
                    "set PYTHONHASHSEED=0 for reproducible CodeBLEU")
    ids, preds, refs = load_pairs(str(cfg.predictions), None if cfg.references is None else str(cfg.references))
    options: dict[str, Any] = {"lang": cfg.lang, "n_jobs": cfg.n_jobs,
                               **(OmegaConf.to_container(cfg.metric_options, resolve=True) or {})}
    results = compute(names, preds, refs, **options)
    flat: dict[str, float] = {}
    for name, result in results.items():
        flat[name] = float(result.value)
        flat.update({f"{name}/{k}": float(v) for k, v in result.extras.items()})
    with open(output_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for i, (ex_id, pred, ref) in enumerate(zip(ids, preds, refs)):
            scores = {n: r.per_example[i] for n, r in results.items() if r.per_example is not None}
            f.write(json.dumps({"id": ex_id, "prediction": pred, "reference": ref, "scores": scores}) + "\n")
    info = {"mode": "predictions", "predictions": str(cfg.predictions), "references": cfg.references,
            "n": len(preds), "lang": cfg.lang, "metrics": names,
            "info": {n: r.info for n, r in results.items() if r.info}}
    (output_dir / "eval_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return flat


#: config key → mode. The training side adds ``"checkpoint"`` / ``"model"`` here
#: (evaluate a checkpoint or HF model on a task's split, same return contract).
def _checkpoint_mode(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    from gazelm.evaluation import evaluate_checkpoint

    return evaluate_checkpoint(cfg, output_dir)


def _model_mode(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    from gazelm.evaluation import evaluate_model

    return evaluate_model(cfg, output_dir)


MODES: dict[str, Callable[[DictConfig, Path], dict[str, float]]] = {
    "predictions": evaluate_predictions_file,
    "checkpoint": _checkpoint_mode,
    "model": _model_mode,
}


def run(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """Dispatch to the first mode whose key is set; write ``metrics.json``; return the metrics."""
    from gazelm.registry import import_plugins

    import_plugins(cfg.get("plugins"))
    output_dir.mkdir(parents=True, exist_ok=True)
    for key, mode in MODES.items():
        if cfg.get(key):
            metrics = mode(cfg, output_dir)
            (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
            return metrics
    wanted = [k for k in ("checkpoint", "model") if cfg.get(k)]
    if wanted:
        raise GazelmInputError(f"{wanted[0]}= evaluation is not installed in this gazelm; available modes: "
                               f"{', '.join(MODES)}", field=wanted[0])
    raise GazelmInputError("nothing to evaluate: give predictions=P.txt references=R.txt "
                           f"(modes: {', '.join(MODES)})", field="predictions")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    metrics = run(cfg, Path(cfg.output_dir))
    sys.stdout.flush()
    print(json.dumps(metrics))


def main() -> None:
    """Entry point for ``gazelm eval`` (arguments are Hydra overrides)."""
    _hydra_main()


if __name__ == "__main__":
    main()
