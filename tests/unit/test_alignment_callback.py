"""AttentionAlignmentEvaluator: token-level human attention, scores, a Lightning run, heatmaps."""
from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import pytest
import torch

from gazelm.callbacks.alignment import AttentionAlignmentEvaluator, alignment_scores, human_token_attention
from gazelm.data.tokenizer_training import train_bpe_tokenizer
from tests.helpers.tiny_models import tiny_causal_lm


EXAMPLES = [{"prompt": "Return the sum of a list of numbers.", "spans": [[15, 19], [28, 35]]},
            {"prompt": "Check if a string is empty.", "spans": [[11, 17]]},
            {"prompt": "Write a function.", "spans": []}]


def test_human_token_attention_is_covered_fraction():
    assert human_token_attention([(0, 4), (4, 8), (8, 8)], [(2, 6)]) == [0.5, 0.5, 0.0]


def test_alignment_scores_by_hand():
    probed = [[("sort", 0.2, (0, 4)), (" the", 0.0, (4, 8)), (" list", 0.8, (8, 13))]]
    scores = alignment_scores(probed, ["sort the list"], [[(9, 13)]], ["cosine", "tgo"], ks=[1])
    # g = [0, 0, 0.8]: " list" covers 4 of 5 chars; cosine(a, g) = 0.64 / (|a| · 0.8)
    assert scores["cosine"] == pytest.approx(0.64 / ((0.2 ** 2 + 0.8 ** 2) ** 0.5 * 0.8))
    assert scores["tgo@1"] == 1.0
    assert scores["precision@1"] == 1.0 and scores["recall@1"] == 1.0 and scores["f1@1"] == 1.0


class TinyModule(L.LightningModule):
    def __init__(self):
        super().__init__()
        tokenizer = train_bpe_tokenizer([e["prompt"] for e in EXAMPLES] * 4, vocab_size=280, trim_offsets=False)
        self.backbone = SimpleNamespace(model=tiny_causal_lm(len(tokenizer), hidden_size=16, layers=1),
                                        tokenizer=tokenizer, is_causal=True)
        self.model = self.backbone.model  # registers the parameters

    def training_step(self, batch, batch_idx):
        ids = batch[0]
        return self.model(input_ids=ids, labels=ids).loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.model(input_ids=batch[0], labels=batch[0]).loss)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_callback_logs_val_align_metrics_and_writes_heatmaps(tmp_path):
    module = TinyModule()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randint(4, 200, (4, 6))), batch_size=2)
    callback = AttentionAlignmentEvaluator(operator={"name": "saliency"}, examples=EXAMPLES, ks=[2],
                                           heatmaps=1, output_dir=str(tmp_path))
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, callbacks=[callback], accelerator="cpu")
    trainer.fit(module, data, data)
    logged = trainer.callback_metrics
    for key in ("val/align_kl", "val/align_js", "val/align_cosine", "val/align_f1@2", "val/align_tgo@2"):
        assert key in logged and torch.isfinite(logged[key])
    assert logged["val/align_kl"] >= 0
    assert (tmp_path / "alignment_heatmaps" / "epoch000_example0.png").stat().st_size > 0
    html = (tmp_path / "alignment_heatmaps" / "epoch000_example0.html").read_text()
    assert "human" in html and "model (saliency)" in html


def test_unknown_metric_or_operator_fails_early():
    with pytest.raises(KeyError, match="unknown alignment metric"):
        AttentionAlignmentEvaluator(examples=EXAMPLES, metrics=["nope"])
    with pytest.raises(KeyError, match="unknown attention operator"):
        AttentionAlignmentEvaluator(operator={"name": "nope"}, examples=EXAMPLES)


def test_heatmaps_are_logged_to_wandb_when_attached(tmp_path):
    from lightning.pytorch.loggers import WandbLogger

    logged = []
    fake = object.__new__(WandbLogger)  # no wandb run: only the isinstance check and log_image matter
    fake.log_image = lambda **kwargs: logged.append(kwargs)
    trainer = SimpleNamespace(loggers=[fake], current_epoch=2, global_step=7, default_root_dir=str(tmp_path),
                              is_global_zero=True)
    callback = AttentionAlignmentEvaluator(examples=EXAMPLES, heatmaps=2)
    probed = [[("Return", 0.5, (0, 6)), (" the", 0.1, (6, 10))], [("Check", 1.0, (0, 5))]]
    callback._heatmaps(trainer, probed, [[(0, 6)], []])
    assert len(logged) == 1 and logged[0]["key"] == "align/heatmaps" and logged[0]["step"] == 7
    assert [p.split("/")[-1] for p in logged[0]["images"]] == ["epoch002_example0.png", "epoch002_example1.png"]


def test_probe_texts_offsets_cover_the_prompt():
    from gazelm.attention.probe import OperatorSpec, probe_texts

    module = TinyModule()
    texts = [e["prompt"] for e in EXAMPLES]
    probed = probe_texts(module.backbone.model, module.backbone.tokenizer, texts, OperatorSpec("rollout"), batch_size=2)
    for text, tokens in zip(texts, probed):
        assert "".join(t[0] for t in tokens) == text
        assert all(text[a:b] == piece for piece, _, (a, b) in tokens)
        assert sum(t[1] for t in tokens) == pytest.approx(1.0, abs=1e-5)  # rollout row over the prompt
