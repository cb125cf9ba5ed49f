"""Resuming a run: ``gazelm train resume=<run dir>`` and ``ckpt_path=``.

- :func:`resume_argv` turns ``resume=<run dir>`` into the command that continues that run in its
  own directory with its own config (its recorded overrides, then the ones given);
- :func:`resolve_ckpt_path` checks the checkpoint before anything loads it (the file, the model
  it fits, whether training is already over) and continues the run's CSV history from it.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any, Mapping

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig

from gazelm.atomic import write_text
from gazelm.checkpoints import check_resumable, read_checkpoint
from gazelm.errors import GazelmInputError

log = logging.getLogger(__name__)


def last_checkpoint(trainer: L.Trainer) -> Path | None:
    """The newest ``last*.ckpt`` in the folders of the trainer's ``ModelCheckpoint`` callbacks."""
    found = [p for cb in trainer.checkpoint_callbacks if getattr(cb, "dirpath", None)
             for p in Path(cb.dirpath).glob("last*.ckpt")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def check_ckpt_file(ckpt_path: str | None) -> None:
    """Fail early (before anything is built) on a ``ckpt_path=`` file that cannot be a checkpoint."""
    if ckpt_path is not None and str(ckpt_path) not in ("", "last", "best", "hpc", "registry"):
        read_checkpoint(ckpt_path)


def resolve_ckpt_path(ckpt_path: str | None, trainer: L.Trainer, module: torch.nn.Module,
                      cfg: DictConfig | None = None) -> str | None:
    """What ``trainer.fit(ckpt_path=...)`` gets: a checked file, or ``None`` to start fresh.

    ``last`` is this run directory's newest ``last*.ckpt`` (none yet: start from scratch, as
    Lightning does, so a requeued job with a fixed ``hydra.run.dir`` resumes when it can);
    ``best``/``hpc``/``registry`` are passed to Lightning; a path is read with
    :func:`read_checkpoint` and checked with :func:`check_resumable` before anything loads it.
    The CSV history in this run directory is cut where the checkpoint was taken, so the
    resumed run appends to it without repeating the steps the interrupted run logged after.
    """
    if ckpt_path is None or str(ckpt_path) == "":
        return None
    text = str(ckpt_path)
    if text in ("best", "hpc", "registry"):
        return text
    if text == "last":
        path = last_checkpoint(trainer)
        if path is None:
            log.info("ckpt_path=last: no last checkpoint in this run directory yet; starting from scratch")
            return None
    else:
        path = Path(text)
    state = read_checkpoint(path)
    check_resumable(state, module, cfg, path)
    check_not_finished(state, trainer, path)
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                trim_csv_history(Path(logger.log_dir) / "metrics.csv", int(state.get("global_step", 0)))
    return str(path)


def check_not_finished(state: Mapping[str, Any], trainer: L.Trainer, path: str | Path) -> None:
    """A checkpoint taken after training ended has nothing to resume: say how to train longer
    (rather than re-run only the test and overwrite the run's metrics)."""
    progress = state.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
    epoch, step = int(progress.get("completed", 0)), int(state.get("global_step", 0))  # epochs the fit loop ended
    if trainer.max_steps > 0 and step >= trainer.max_steps:
        raise GazelmInputError(f"the run finished training (step {step} of trainer.max_steps={trainer.max_steps}); "
                               "to train longer give a larger trainer.max_steps", path=path, field="ckpt_path")
    if trainer.max_steps <= 0 and trainer.max_epochs is not None and epoch >= trainer.max_epochs:
        raise GazelmInputError(f"the run finished training ({epoch} of trainer.max_epochs={trainer.max_epochs} "
                               "epochs); to train longer give a larger trainer.max_epochs", path=path, field="ckpt_path")


def trim_csv_history(path: Path, from_step: int) -> None:
    """Drop the rows of a Lightning ``metrics.csv`` logged at ``step >= from_step`` (rewritten atomically)."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], list(reader)
    kept = [r for r in rows if not (r.get("step") or "").isdigit() or int(r["step"]) < from_step]
    if len(kept) == len(rows):
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    write_text(path, out.getvalue())
    log.info("%s: dropped %d rows logged after step %d (the resumed run logs them again)", path,
             len(rows) - len(kept), from_step)


def latest_run(root: Path) -> Path:
    """The run directory under ``root`` (``runs/`` and ``multiruns/``) with the newest ``last.ckpt``."""
    found = [p for sub in ("runs", "multiruns") for p in (root / sub).glob("**/checkpoints/last.ckpt")]
    if not found:
        raise GazelmInputError("no run with a checkpoints/last.ckpt to resume", path=root, field="resume")
    return max(found, key=lambda p: p.stat().st_mtime).parents[1]


def resume_argv(argv: list[str], outputs: Path | None = None) -> list[str]:
    """Rewrite ``gazelm train resume=<run dir> [overrides]`` into the command that continues that run.

    The run's own overrides (``<run dir>/.hydra/overrides.yaml``) come first, then the ones given
    here (so ``trainer.max_epochs=10`` extends a run), then ``ckpt_path=<run dir>/checkpoints/last.ckpt``
    and ``hydra.run.dir=<run dir>``: the same config, the same directory (CSV history appended,
    the W&B run resumed by id). ``resume=last`` is the newest run with a ``last.ckpt`` under
    ``outputs/`` (or the ``paths.log_dir=`` given); a ``.ckpt`` file resumes from that checkpoint
    of its run.
    """
    given = [a for a in argv[1:] if a.startswith("resume=")]
    if not given:
        return argv
    if len(given) > 1 or any(a in ("-m", "--multirun") for a in argv):
        raise GazelmInputError("resume= continues one run: give it once, without -m", field="resume")
    value = given[0].split("=", 1)[1].strip("'\"")
    if value == "last":
        from gazelm.config import project_root

        log_dir = [a.split("=", 1)[1].strip("'\"") for a in argv[1:] if a.startswith("paths.log_dir=")]
        target = latest_run(outputs or (Path(log_dir[-1]) if log_dir else project_root() / "outputs"))
    else:
        target = Path(value).expanduser().resolve()
    run_dir = target.parents[1] if target.suffix == ".ckpt" else target
    recorded_file = run_dir / ".hydra" / "overrides.yaml"
    if not recorded_file.is_file():
        raise GazelmInputError("not a gazelm run directory (no .hydra/overrides.yaml)", path=run_dir, field="resume")
    checkpoint = target if target.suffix == ".ckpt" else run_dir / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        raise GazelmInputError("no checkpoint to resume from (last.ckpt is written at each epoch end, or every "
                               "callbacks.last_checkpoint.every_n_train_steps steps)", path=checkpoint, field="resume")
    import yaml

    recorded = [o for o in yaml.safe_load(recorded_file.read_text(encoding="utf-8")) or []
                if o.split("=", 1)[0].lstrip("+~") not in ("ckpt_path", "resume")]
    rest = [a for a in argv[1:] if not a.startswith("resume=")]
    return [argv[0], *recorded, *rest, f'ckpt_path="{checkpoint}"', f'hydra.run.dir="{run_dir}"']
