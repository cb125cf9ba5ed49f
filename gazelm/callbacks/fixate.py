"""``FixateEvaluator``: FixATE's 4-way table, the population prompt, baselines, per-participant tests.

On validation (every ``every_n_epochs``) and test it runs the FixATE objective's probe on every
example of the split under three prompts — ``backbone`` (the frozen model, no prompt),
``population`` (the uniform mixture of the trained basis) and ``fixate`` (each participant's own
prompt; users never trained get the population prompt) — in two modes: ``tf`` (teacher-forced:
relevance explains the participant's letter) and ``gen`` (the letter the model picks — greedy
generation of one token constrained to the option letters). It logs micro-averages
``<split>/<prompt>_<mode>_<metric>`` (attention: kl, js, cosine, topk_js, tgo@k, hit@k; FixATE's
conventions) and ``<split>/<prompt>_<metric>`` (answers: logloss, auc, acc against the
participant's choice, acc_correct against the correct option), the baselines
``<split>/{uniform,length,class_mean}_<metric>``, writes one row per trial to
``predictions/<split>_step<N>.jsonl`` (with the participant), and at test a Markdown/CSV summary
(``fixate/<split>_summary.md``: the 4-way table, baselines, per-participant Wilcoxon tests of
FixATE against the backbone and the population prompt) and heatmaps (participant's dwell vs
relevance before/after tuning, HTML + PNG, logged to W&B when on). At the end of fitting the soft
prompts are exported on their own (``soft_prompts.pt``, loadable with ``weights_only=True``).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch

from gazelm.callbacks.schedule import evaluates_this_epoch
from gazelm.metrics.fixate import ClassMeanBaseline, answer_metrics, attention_metrics, baseline_predictions
from gazelm.objectives.fixate import option_logits

log = logging.getLogger(__name__)
PROMPTS = {"backbone": "none", "population": "population", "fixate": "personal"}
MODES = ("tf", "gen")


def _letter(choices: Sequence[str], index: int) -> str:
    return choices[index].strip() if 0 <= index < len(choices) else ""


class FixateEvaluator(L.Callback):
    """See the module docstring. ``conditions``: which of backbone, population, fixate to run."""

    def __init__(self, splits: Sequence[str] = ("val", "test"), every_n_epochs: int = 1,
                 conditions: Sequence[str] = ("backbone", "population", "fixate"), ks: Sequence[int] = (1, 3, 5),
                 topk: int = 5, max_examples: int | None = None, heatmaps: int = 3, output_dir: str | None = None,
                 export_prompts: bool = True):
        unknown = set(conditions) - set(PROMPTS)
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; expected {sorted(PROMPTS)}")
        self.splits, self.every_n_epochs, self.conditions = set(splits), every_n_epochs, list(conditions)
        self.ks, self.topk, self.max_examples = [int(k) for k in ks], int(topk), max_examples
        self.heatmaps, self.output_dir, self.export_prompts = heatmaps, output_dir, export_prompts
        self.last: dict[str, dict[str, float]] = {}

    # -- hooks ------------------------------------------------------------------------
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "val" in self.splits and evaluates_this_epoch(trainer, self.every_n_epochs):
            self.evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" in self.splits:
            self.evaluate(trainer, pl_module, "test", summary=True)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        prompt = getattr(pl_module.objective, "soft_prompt", None)
        if self.export_prompts and prompt is not None and trainer.is_global_zero:
            path = prompt.save(self._root(trainer) / "soft_prompts.pt")
            log.info("soft prompts written to %s", path)

    # -- work -------------------------------------------------------------------------
    def _root(self, trainer: L.Trainer) -> Path:
        return Path(self.output_dir or trainer.default_root_dir)

    def probe_batch(self, pl_module: L.LightningModule, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Per prompt: option probabilities ``[B, O]`` and slot attention per mode ``[B, n_slots]``."""
        objective = pl_module.objective
        from gazelm.attention.operators import OPERATORS

        needs_grad = bool(OPERATORS.meta(objective.operator).get("needs_gradient"))
        out: dict[str, Any] = {}
        with torch.inference_mode(False), torch.enable_grad():
            batch = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()}
            for name in self.conditions:
                # FixATE feeds the explained letter after the prompt: the participant's (as the batch
                # holds it) in tf mode, the model's own in gen mode
                run = objective.run(batch, pl_module, PROMPTS[name], output_attentions=True)
                probs = torch.softmax(option_logits(run.answer_logits.detach().float(), batch["option_ids"]), dim=-1)
                tokens = objective.explained_tokens(run.answer_logits, batch, "tf")
                attention = {"tf": objective.slot_attention(run, batch, tokens, create_graph=False,
                                                            grad_scale=1.0).detach().float().cpu()}
                if needs_grad:
                    gen = objective.explained_tokens(run.answer_logits, batch, "gen")
                    run = objective.run(batch, pl_module, PROMPTS[name], output_attentions=True, answer_tokens=gen)
                    attention["gen"] = objective.slot_attention(run, batch, gen, create_graph=False,
                                                                grad_scale=1.0).detach().float().cpu()
                else:  # rollout reads no gradient, and the answer row never attends to the letter after it
                    attention["gen"] = attention["tf"]
                out[name] = {"probs": probs.cpu(), "attention": attention}
        return out

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str,
                 summary: bool = False) -> dict[str, float]:
        dm = trainer.datamodule
        examples = dm.split_examples(split)
        class_mean = ClassMeanBaseline().fit((e.meta["slot_classes"], e.meta["slot_target"])
                                             for e in dm.split_examples("train") if e.meta.get("slot_classes"))
        loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
        was_training = pl_module.training
        pl_module.eval()
        records: list[dict[str, Any]] = []
        heat: list[dict[str, Any]] = []
        try:
            for batch in loader:
                batch = {k: v.to(pl_module.device) if torch.is_tensor(v) else v for k, v in batch.items()}
                probed = self.probe_batch(pl_module, batch)
                for row, index in enumerate(batch["example_index"].tolist()):
                    if self.max_examples is not None and len(records) >= self.max_examples:
                        break
                    records.append(self._record(examples[index], row, probed, class_mean, heat))
        finally:
            pl_module.train(was_training)
        if not records:
            return {}
        metrics = self._aggregate(records)
        for name, value in metrics.items():
            pl_module.log(f"{split}/{name}", value, rank_zero_only=True, sync_dist=False)
        self.last[split] = metrics
        if trainer.is_global_zero:
            self._write_rows(trainer, split, records)
            if summary:
                self._write_summary(trainer, split, records, metrics)
                self._write_heatmaps(trainer, split, heat)
        return metrics

    def _record(self, example, row: int, probed: dict[str, Any], class_mean: ClassMeanBaseline,
                heat: list[dict[str, Any]]) -> dict[str, Any]:
        meta = example.meta
        g = np.asarray(meta["slot_target"], dtype=float)
        n = len(g)
        choice, correct = int(meta.get("choice", -1)), int(meta.get("correct", -1))
        clicked = choice if meta.get("choice_is_slot") else -1  # interfaces: the answer is one of the slots
        scores: dict[str, float] = {}
        predicted = ""
        attention_rows = {}
        for name, res in probed.items():
            probs = res["probs"][row][: len(meta["choices"])].numpy()
            for key, value in answer_metrics(probs, choice, correct).items():
                scores[f"{name}_{key}"] = value
            for mode in MODES:
                a = res["attention"][mode][row][:n].numpy()
                attention_rows[f"{name}_{mode}"] = a
                for key, value in attention_metrics(a, g, self.ks, self.topk, clicked).items():
                    scores[f"{name}_{mode}_{key}"] = value
            if name == "fixate" or not predicted:
                predicted = _letter(meta["choices"], int(np.argmax(probs)))
        for name, a in baseline_predictions(meta, class_mean).items():
            for key, value in attention_metrics(a, g, self.ks, self.topk, clicked).items():
                scores[f"{name}_{key}"] = value
        if len(heat) < self.heatmaps:  # code with character spans, or an interface image with slot boxes
            heat.append({"id": example.id, "code": example.source, "slots": meta.get("slots"), "g": g,
                         "image": meta.get("image"), "boxes": meta.get("slot_boxes"), **attention_rows})
        return {"id": example.id, "user": meta.get("user"), "prediction": predicted,
                "reference": _letter(meta["choices"], choice), "correct": _letter(meta["choices"], correct),
                "scores": scores}

    @staticmethod
    def _aggregate(records: list[dict[str, Any]]) -> dict[str, float]:
        """Micro-average of every score over the trials that have it, and the trial counts."""
        keys = sorted({k for r in records for k in r["scores"]})
        out = {}
        for key in keys:
            values = [r["scores"][key] for r in records if key in r["scores"] and not math.isnan(r["scores"][key])]
            if values:
                out[key] = float(np.mean(values))
        out["n_trials"] = float(len(records))
        out["n_answered"] = float(sum(1 for r in records if r["reference"]))
        out["n_users"] = float(len({r["user"] for r in records}))
        return out

    def _write_rows(self, trainer: L.Trainer, split: str, records: list[dict[str, Any]]) -> None:
        root = self._root(trainer) / "predictions"
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{split}_step{trainer.global_step}.jsonl", "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")

    def _write_summary(self, trainer: L.Trainer, split: str, records: list[dict[str, Any]],
                       metrics: dict[str, float]) -> None:
        from gazelm.report.fixate_tables import summary_markdown

        root = self._root(trainer) / "fixate"
        root.mkdir(parents=True, exist_ok=True)
        text, tables = summary_markdown(records, metrics, self.conditions)
        (root / f"{split}_summary.md").write_text(text, encoding="utf-8")
        for name, table in tables.items():
            table.to_csv(root / f"{split}_{name}.csv", index=False)
        log.info("FixATE %s summary:\n%s", split, text)

    def _write_heatmaps(self, trainer: L.Trainer, split: str, heat: list[dict[str, Any]]) -> None:
        from gazelm.attention.heatmap import write_heatmap

        root = self._root(trainer) / "fixate" / "heatmaps"
        images = []
        for i, h in enumerate(heat):
            rows = {"participant dwell": h["g"]}
            for key, label in (("backbone_tf", "backbone (before)"), ("population_tf", "population prompt"),
                               ("fixate_tf", "FixATE (after)")):
                if key in h:
                    rows[label] = h[key]
            if h.get("image"):
                from gazelm.interfaces.heatmap import write_page_heatmap

                images.append(str(write_page_heatmap(root / f"{split}_example{i}.png", h["image"], h["boxes"], rows,
                                                     title=str(h["id"]))))
                continue
            _, png = write_heatmap(root / f"{split}_example{i}", h["code"], [tuple(s) for s in h["slots"]],
                                   {name: [float(v) for v in values] for name, values in rows.items()},
                                   title=str(h["id"]))
            images.append(str(png))
        try:
            from lightning.pytorch.loggers import WandbLogger
        except ImportError:  # pragma: no cover
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and images:
                logger.log_image(key=f"fixate/{split}_heatmaps", images=images, step=trainer.global_step)
