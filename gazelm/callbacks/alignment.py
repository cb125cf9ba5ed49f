"""``AttentionAlignmentEvaluator``: does training move model attention toward human attention?

At the end of validation epochs it runs an attention operator on the backbone's HF model
(``pl_module.backbone.model``) over a held-out set of prompts with human attention, and logs
``val/align_<metric>``: the distribution metrics of :data:`gazelm.metrics.alignment.ALIGNMENT_METRICS`
(KL(g‖a), squared JS, cosine, Spearman, Kendall, TGO@k, CSH@k; mean over prompts that have
human attention) and Kou et al.'s span P/R/F1@K and Krippendorff's α. It is self-contained: it
tokenizes the prompts with ``pl_module.backbone.tokenizer``, so it works with any datamodule.
It also writes heatmaps (human vs model, HTML + PNG) and logs the PNGs to W&B when a
``WandbLogger`` is attached.

Human attention per token is the fraction of the token's characters inside human spans.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning as L
import torch

from gazelm.callbacks.schedule import evaluates_this_epoch
from gazelm.attention.heatmap import text_from_pieces, write_heatmap
from gazelm.attention.probe import OperatorSpec, probe_texts
from gazelm.metrics.alignment import ALIGNMENT_METRICS, covered, score_prompts

log = logging.getLogger(__name__)
Span = tuple[int, int]


def human_token_attention(token_spans: Sequence[Span], human_spans: Sequence[Span]) -> list[float]:
    """Per token, the fraction of its characters covered by human spans (0 for empty spans)."""
    return [covered(s, human_spans) / (s[1] - s[0]) if s[1] > s[0] else 0.0 for s in token_spans]


def alignment_scores(probed: Sequence[Sequence[tuple[str, float, Span]]], prompts: Sequence[str],
                     spans: Sequence[Sequence[Span]], metrics: Sequence[str], ks: Sequence[int]) -> dict[str, float]:
    """Mean distribution metrics over prompts with human attention, and span P/R/F1/α per K."""
    out: dict[str, float] = {}
    for name in metrics:
        fn = ALIGNMENT_METRICS.get(name)
        per_k = ks if ALIGNMENT_METRICS.meta(name).get("takes_k") else [None]
        for k in per_k:
            values = []
            for tokens, human in zip(probed, spans):
                g = human_token_attention([t[2] for t in tokens], human)
                if not any(g):
                    continue
                value = fn([t[1] for t in tokens], g, k=k) if k is not None else fn([t[1] for t in tokens], g)
                if not math.isnan(value):
                    values.append(value)
            key = f"{name}@{k}" if k is not None else name
            out[key] = sum(values) / len(values) if values else float("nan")
    examples = [(p, [(t[0], t[1]) for t in tokens], list(h)) for p, tokens, h in zip(prompts, probed, spans)]
    for row in score_prompts(examples, ks):
        for metric in ("precision", "recall", "f1"):
            out[f"{metric}@{row['k']}"] = row[metric]
        out[f"alpha@{row['k']}"] = row["krippendorff_alpha"]
    return out


class AttentionAlignmentEvaluator(L.Callback):
    """Log ``val/align_*`` from an attention operator against human attention.

    ``examples``: ``[{"prompt": str, "spans": [[start, end], ...]}, ...]`` (half-open); when
    omitted, Kou et al.'s labels of ``source`` (``humaneval`` / ``mbpp``, from ``labels_path``
    or ``$GAZELM_DATA_DIR``). ``operator``: an :class:`OperatorSpec` (what an option of the
    ``operator`` config group instantiates) or a mapping of its fields (``name``, ``stage``,
    ``max_new_tokens``, ``score``, ``params``); default ``self_attention``.
    """

    def __init__(self, operator: OperatorSpec | Mapping[str, Any] | None = None, examples: Sequence[Mapping[str, Any]] | None = None,
                 source: str = "humaneval", labels_path: str | None = None, max_examples: int | None = 32,
                 metrics: Sequence[str] = ("kl", "js", "cosine", "spearman", "tgo", "csh"), ks: Sequence[int] = (5, 10),
                 every_n_epochs: int = 1, batch_size: int = 8, max_length: int | None = 512, heatmaps: int = 2,
                 output_dir: str | None = None, prefix: str = "val/align_"):
        if not isinstance(operator, OperatorSpec):
            operator = OperatorSpec.from_config(operator or {"name": "self_attention"})
        self.spec = operator
        self.examples = [dict(e) for e in examples] if examples is not None else None
        self.source, self.labels_path, self.max_examples = source, labels_path, max_examples
        self.metrics, self.ks = list(metrics), [int(k) for k in ks]
        for name in self.metrics:
            ALIGNMENT_METRICS.get(name)
        self.every_n_epochs, self.batch_size, self.max_length = every_n_epochs, batch_size, max_length
        self.heatmaps, self.output_dir, self.prefix = heatmaps, output_dir, prefix
        self.last_scores: dict[str, float] = {}

    def _load(self) -> tuple[list[str], list[list[Span]]]:
        if self.examples is None:
            from gazelm.data.sources.kou_labels import load_kou_labels

            prompts = load_kou_labels(self.source, self.labels_path)
            self.examples = [{"prompt": p.text, "spans": p.span_tuples()} for p in prompts]
        chosen = self.examples[: self.max_examples] if self.max_examples is not None else self.examples
        return [e["prompt"] for e in chosen], [[tuple(s) for s in e["spans"]] for e in chosen]

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not evaluates_this_epoch(trainer, self.every_n_epochs):
            return
        scores = self.evaluate(trainer, pl_module)
        for key, value in scores.items():
            if not math.isnan(value):
                pl_module.log(f"{self.prefix}{key}", value, sync_dist=False, rank_zero_only=True)

    def evaluate(self, trainer: L.Trainer | None, pl_module: L.LightningModule) -> dict[str, float]:
        """Run the operator on every example; return (and remember) the scores."""
        backbone = pl_module.backbone
        prompts, spans = self._load()
        model, tokenizer = backbone.model, backbone.tokenizer
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode(False), torch.enable_grad():
                probed = probe_texts(model, tokenizer, prompts, self.spec, self.batch_size, self.max_length)
        finally:
            model.train(was_training)
        self.last_scores = alignment_scores(probed, prompts, spans, self.metrics, self.ks)
        if self.heatmaps and (trainer is None or trainer.is_global_zero):
            self._heatmaps(trainer, probed, spans, prompts)
        return self.last_scores

    def _heatmaps(self, trainer: L.Trainer | None, probed, spans, prompts: Sequence[str] | None = None) -> None:
        root = Path(self.output_dir or (trainer.default_root_dir if trainer is not None else "."))
        epoch = trainer.current_epoch if trainer is not None else 0
        images = []
        for i, (tokens, human) in enumerate(list(zip(probed, spans))[: self.heatmaps]):
            token_spans = [t[2] for t in tokens]
            rows = {"human": human_token_attention(token_spans, human),
                    f"model ({self.spec.label})": [max(t[1], 0.0) for t in tokens]}
            text = prompts[i] if prompts is not None else text_from_pieces(tokens)
            _, png = write_heatmap(root / "alignment_heatmaps" / f"epoch{epoch:03d}_example{i}", text, token_spans,
                                   rows, title=f"epoch {epoch}, example {i}")
            images.append(str(png))
        if trainer is None:
            return
        try:
            from lightning.pytorch.loggers import WandbLogger
        except ImportError:  # pragma: no cover - lightning always ships it
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and images:
                logger.log_image(key="align/heatmaps", images=images, step=trainer.global_step)
