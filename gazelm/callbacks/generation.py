"""Generate on validation/test, score with the metric registry, log and write JSONL.

Under DDP each rank generates its share of the examples, predictions are gathered by
example index (duplicates from padding dropped), metrics are computed once on rank 0,
broadcast, and logged on every rank.

With ``generation.num_return_sequences = n > 1`` each example gets a list of n samples
(for metrics registered with ``samples=True``, i.e. pass@k). Each metric is given the
references it compares against (registry metadata ``reference``): the examples' targets,
or their ids (HumanEval/MBPP task ids for pass@k).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch.distributed as dist

from gazelm.callbacks.schedule import evaluates_this_epoch
from gazelm.data.collate import pad_batch
from gazelm.distributed import process_group_ready
from gazelm.errors import GazelmInputError

log = logging.getLogger(__name__)


def truncate(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop sequence."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


class GenerationEvaluator(L.Callback):
    """``metrics``: registry names; ``generation``: kwargs for HF ``generate`` (greedy by
    default; ``num_beams``, ``do_sample``/``top_p``/``temperature``, ``max_new_tokens``,
    ``num_return_sequences``). ``stop``: completions are cut at the first of these strings;
    ``"source"`` (default) takes the data source's own (HumanEval, MBPP: the stop sequences of
    their papers' harnesses; none for other sources), ``null`` keeps everything."""

    def __init__(self, metrics: Sequence[str] = ("bleu_sacre", "rouge_l"), splits: Sequence[str] = ("val", "test"),
                 every_n_epochs: int = 1, max_samples: int | None = None, batch_size: int = 32,
                 generation: dict[str, Any] | None = None, output_dir: str | None = None,
                 metric_options: dict[str, Any] | None = None, stop: Sequence[str] | str | None = "source"):
        self.metrics, self.splits, self.every_n_epochs = list(metrics), set(splits), every_n_epochs
        self.max_samples, self.batch_size = max_samples, batch_size
        given = {k: v for k, v in (generation or {}).items() if v is not None}  # null: the model's default
        self.generation = {"max_new_tokens": 64, "num_beams": 1, "do_sample": False, **given}
        self.output_dir, self.metric_options = output_dir, dict(metric_options or {})
        self.stop = stop
        n = self.generation.get("num_return_sequences")
        self.samples = 1 if n is None else int(n)
        self._check_samples()

    def _check_samples(self) -> None:
        from gazelm.metrics import METRICS

        n = self.samples
        if n < 1:
            raise GazelmInputError(f"must be at least 1, got {n}", field="generation.num_return_sequences")
        if n > 1 and not self.generation.get("do_sample") and int(self.generation.get("num_beams") or 1) < n:
            raise GazelmInputError(f"{n} samples per example need sampling (generation.do_sample=true, with "
                                   "temperature/top_p) or beam search with num_beams >= num_return_sequences",
                                   field="generation.num_return_sequences")
        single = [m for m in self.metrics if not METRICS.meta(m).get("samples")]
        if n > 1 and single:
            raise GazelmInputError(f"{', '.join(single)} score(s) one prediction per example; with "
                                   f"num_return_sequences={n} ask only for metrics that take samples (pass@k)",
                                   field="generation.num_return_sequences")

    def stop_sequences(self, datamodule: Any) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        if isinstance(self.stop, str):
            if self.stop != "source":
                raise GazelmInputError(f"expected a list of strings, 'source' or null, got {self.stop!r}",
                                       field="stop")
            from gazelm.data.sources import SOURCES

            name = (getattr(datamodule, "source", None) or {}).get("name")
            return tuple(SOURCES.meta(name).get("stop_sequences", ())) if name in SOURCES else ()
        return tuple(self.stop)

    # -- hooks ------------------------------------------------------------------------
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "val" in self.splits and evaluates_this_epoch(trainer, self.every_n_epochs):
            self.evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" in self.splits:
            self.evaluate(trainer, pl_module, "test")

    # -- work -------------------------------------------------------------------------
    def _prompt_batches(self, features: list[dict], indices: list[int], pad_id: int, causal: bool):
        order = sorted(indices, key=lambda i: -features[i]["n_prompt"])
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            rows = []
            for i in chunk:
                row = features[i]
                rows.append({"input_ids": row["input_ids"][: row["n_prompt"]], "example_index": i})
            yield pad_batch(rows, pad_id, padding_side="left" if causal else "right")

    def predictions(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> dict[int, str | list[str]]:
        """Example index → its completion, or its list of ``num_return_sequences`` samples."""
        dm = trainer.datamodule
        stop = self.stop_sequences(dm)
        features = dm.split_features(split)
        n = len(features) if self.max_samples is None else min(self.max_samples, len(features))
        rank, world = trainer.global_rank, trainer.world_size
        mine = list(range(n))[rank::world]
        was_training = pl_module.training
        pl_module.eval()
        out: dict[int, str | list[str]] = {}
        n = self.samples
        for batch in self._prompt_batches(features, mine, dm.tokenizer.pad_token_id, pl_module.backbone.is_causal):
            texts = [truncate(t, stop) for t in
                     pl_module.generate(batch["input_ids"], batch["attention_mask"], **self.generation)]
            grouped = texts if n == 1 else [texts[i * n:(i + 1) * n] for i in range(len(texts) // n)]
            out.update(zip(batch["example_index"].tolist(), grouped))
        pl_module.train(was_training)
        if process_group_ready():
            gathered: list[dict[int, Any] | None] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, out)
            out = {k: v for part in gathered for k, v in (part or {}).items()}
        return out

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> dict[str, float]:
        from gazelm.metrics import compute

        preds = self.predictions(trainer, pl_module, split)
        dm = trainer.datamodule
        examples = dm.split_examples(split)
        ids = sorted(preds)
        values: list[dict[str, float] | None] = [None]
        if trainer.is_global_zero:
            refs = {"target": [examples[i].target for i in ids], "task_id": [examples[i].id for i in ids]}
            hyps = [preds[i] for i in ids]
            options = {"lang": examples[0].target_language, **self.metric_options}
            results = compute(self.metrics, hyps, refs, **options)
            flat: dict[str, float] = {}
            for name, result in results.items():
                flat[name] = float(result.value)
                flat.update({f"{name}/{k}": float(v) for k, v in result.extras.items()})
            values = [flat]
            self._write(trainer, split, ids, examples, preds, results)
        if process_group_ready():
            dist.broadcast_object_list(values, src=0)
        metrics = values[0] or {}
        for name, value in metrics.items():
            pl_module.log(f"{split}/{name}", value, rank_zero_only=False, sync_dist=False)
        return metrics

    def _write(self, trainer: L.Trainer, split: str, ids: list[int], examples: list, preds: dict[int, Any],
               results: dict[str, Any]) -> None:
        root = Path(self.output_dir or trainer.default_root_dir) / "predictions"
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"{split}_step{trainer.global_step}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row, i in enumerate(ids):
                scores = {name: r.per_example[row] for name, r in results.items() if r.per_example is not None}
                fh.write(json.dumps({"id": examples[i].id, "prediction": preds[i], "reference": examples[i].target,
                                     "scores": scores}) + "\n")
        log.info("predictions written to %s", path)
