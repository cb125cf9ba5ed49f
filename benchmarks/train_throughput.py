"""gazelm's training loop vs the best-configured peers, interleaved so the ratio survives load.

Arms (each in its own long-lived process, see ``benchmarks/interleave.py``), same tiny model
and initialisation, same tokenized data (python_stdlib summarization for T5, completion for
the causal model), batch size, learning rate, schedule and gradient clipping:

* ``gazelm``          — ``gazelm train`` as configured (Lightning, ``GazeDataModule``, CE);
                        ``--gazelm-overrides`` adds Hydra overrides (e.g. ``compile=true``);
* ``hf_grouped``      — HF ``Seq2SeqTrainer`` / ``Trainer`` with ``group_by_length`` (peer);
* ``trl_packed``      — TRL ``SFTTrainer``, ``packing=True`` (BFD, padding-free; causal only);
* ``trl_grouped``     — TRL ``SFTTrainer`` with ``group_by_length`` (causal only);
* ``trl_padding_free``— TRL ``SFTTrainer``, ``padding_free=True`` without packing (causal only);
* ``hf``              — HF ``Trainer`` with its defaults (random batches): reference row only;
* ``hf_grouped_retain``— ``hf_grouped`` with gazelm's host-memory setting (``gazelm.host_memory``),
                        reference row (``--arms``): what the allocator setting alone is worth to HF.

The gazelm arm(s) set up the process as ``gazelm train`` does (``retain_freed_memory: true`` unless
overridden, e.g. ``--variants retain_freed_memory=false``); the HF and TRL arms run as their users
would run them.

Tokens/s counts the non-pad tokens of the examples (encoder input + labels for T5; the
sequence for causal models), whatever the batch layout. ``RATIO`` = gazelm ÷ the best peer
(the peer with the highest median tokens/s), the median of per-round ratios.

    python benchmarks/train_throughput.py [--kind seq2seq|causal] [--rounds 25] [--steps 5] [--threads 2]
    python benchmarks/train_throughput.py --gpu   # ~341M-parameter causal LM, bf16: tokens/s, MFU, GPU memory
    python benchmarks/train_throughput.py --gpu --dry-run   # the same arms on CPU, tiny model: checks a --gpu command

Needs the ``bench`` extra (``pip install -e '.[bench]'``: TRL) for the TRL arms.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import Gate, report, run_rounds, save_rounds, serve, worker_arm  # noqa: E402

from gazelm.host_memory import retain_freed_memory  # noqa: E402

GPU_MODEL = {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 24,
             "num_attention_heads": 16, "num_key_value_heads": 16, "max_position_embeddings": 2048,
             "tie_word_embeddings": True}
PEERS = {"seq2seq": ["hf_grouped"], "causal": ["hf_grouped", "trl_packed", "trl_grouped", "trl_padding_free"]}
REFERENCES = ["hf"]
OPTIONAL_REFERENCES = ["hf_grouped_retain"]  # only with --arms


def _overrides(args, gazelm: bool, variant: str = "") -> list[str]:
    model = "tiny_t5" if args.kind == "seq2seq" else "tiny_causal"
    task = "summarization" if args.kind == "seq2seq" else "completion"
    out = [f"model={model}", f"task={task}", f"data.batch_size={args.batch_size}", "model.config.dropout_rate=0.0"
           if args.kind == "seq2seq" else "+model.config.attention_dropout=0.0",
           f"data.source.max_examples={{train: {args.examples}, val: 8, test: 8}}", "model.tokenizer.vocab_size=4096"]
    if args.cuda:
        spec = ",".join(f"{k}:{str(v).lower() if isinstance(v, bool) else v}" for k, v in GPU_MODEL.items())
        out += [f"model.config={{{spec}}}", "trainer=gpu", "model.tokenizer.vocab_size=32000"]
    elif args.gpu:  # --dry-run: the tiny model on CPU, with the GPU run's bf16 autocast
        out += ["trainer.precision=bf16-mixed"]
    if gazelm:
        out += list(args.gazelm_overrides) + [o for o in variant.split("|") if o]
    return out


def _components(args, gazelm: bool, variant: str = ""):
    from omegaconf import open_dict

    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    cache = ROOT / ".cache" / "bench"
    cfg = train_config(Path(os.environ.get("TMPDIR", "/tmp")) / "gazelm-bench", cache,
                       *_overrides(args, gazelm, variant))
    with open_dict(cfg):
        cfg.seed = 0
    import lightning as L

    L.seed_everything(0, verbose=False)
    datamodule, module = build_components(cfg)
    datamodule.setup("fit")
    return cfg, datamodule, module


def _total_steps(args) -> int:
    return args.warmup + args.rounds * args.steps + 2


def _threads(args) -> None:
    import torch

    if not args.cuda:
        torch.set_num_threads(args.threads)


def run_gazelm(args, gate: Gate, variant: str = "") -> None:
    import lightning as L

    cfg, datamodule, module = _components(args, gazelm=True, variant=variant)
    if cfg.get("retain_freed_memory", True):  # as `gazelm train` does (gazelm.training.train)
        retain_freed_memory()
    causal = module.backbone.is_causal

    class Meter(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            gate.step()
            tokens = batch["attention_mask"].sum()
            if not causal:
                tokens = tokens + (batch["labels"] != -100).sum()
            gate.count(tokens)  # a tensor: summed on the device, read once per chunk

    trainer_cfg = cfg.trainer
    trainer = L.Trainer(max_steps=_total_steps(args), max_epochs=-1, accelerator="gpu" if args.cuda else "cpu",
                        devices=1, precision=trainer_cfg.precision, logger=False, callbacks=[Meter()],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, use_distributed_sampler=False,
                        gradient_clip_val=trainer_cfg.gradient_clip_val,
                        log_every_n_steps=trainer_cfg.log_every_n_steps)
    gate.extra["params"] = sum(p.numel() for p in module.parameters())
    trainer.fit(module, datamodule=datamodule)


def _token_meter(model, gate: Gate, causal: bool) -> None:
    """Count the examples' non-pad tokens of every training forward (any batch layout)."""
    def hook(module, args, kwargs):
        if not module.training:
            return
        mask = kwargs.get("attention_mask")
        tokens = mask.sum() if mask is not None else kwargs["input_ids"].numel()  # padding-free: no pad
        if not causal:
            tokens = tokens + (kwargs["labels"] != -100).sum()
        gate.count(tokens)  # summed on the device, read once per chunk

    model.register_forward_pre_hook(hook, with_kwargs=True)


def _hf_common(args, cfg) -> dict:
    return dict(output_dir=str(ROOT / ".cache" / "bench" / "hf"), per_device_train_batch_size=args.batch_size,
                max_steps=_total_steps(args), learning_rate=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                warmup_steps=int(cfg.scheduler.warmup_ratio * _total_steps(args)), lr_scheduler_type="cosine",
                max_grad_norm=1.0, logging_strategy="no", save_strategy="no", report_to=[], seed=0,
                dataloader_num_workers=0, bf16=args.gpu, use_cpu=not args.cuda, disable_tqdm=True)


def run_hf(args, gate: Gate, group_by_length: bool) -> None:
    from transformers import (DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer,
                              TrainerCallback, TrainingArguments)

    cfg, datamodule, module = _components(args, gazelm=False)
    model, tok, causal = module.backbone.model, module.backbone.tokenizer, module.backbone.is_causal
    rows = [{"input_ids": f["input_ids"].tolist(), "labels": f["labels"].tolist()}
            for f in datamodule.split_features("train")]
    collate = DataCollatorForSeq2Seq(tok, model=None if causal else model, label_pad_token_id=-100)

    class Step(TrainerCallback):
        def on_step_begin(self, *a, **kw):
            gate.step()

    _token_meter(model, gate, causal)
    common = dict(_hf_common(args, cfg), remove_unused_columns=False,
                  train_sampling_strategy="group_by_length" if group_by_length else "random")
    if causal:
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=rows, data_collator=collate,
                          callbacks=[Step()])
    else:
        trainer = Seq2SeqTrainer(model=model, args=Seq2SeqTrainingArguments(**common), train_dataset=rows,
                                 data_collator=collate, callbacks=[Step()])
    trainer.train()


def run_trl(args, gate: Gate, mode: str) -> None:
    """TRL ``SFTTrainer`` on the same tokenized rows (prompt tokens already labelled -100)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    cfg, datamodule, module = _components(args, gazelm=False)
    model, tok = module.backbone.model, module.backbone.tokenizer
    features = datamodule.split_features("train")
    rows = [{"input_ids": f["input_ids"].tolist(), "labels": f["labels"].tolist()} for f in features]
    longest = int(features.lengths("input_ids").max())

    class Step(TrainerCallback):
        def on_step_begin(self, *a, **kw):
            gate.step()

    _token_meter(model, gate, causal=True)
    options = {"packed": dict(packing=True, max_length=longest),           # BFD packing, padding-free batches
               "grouped": dict(train_sampling_strategy="group_by_length", max_length=longest),
               "padding_free": dict(padding_free=True, max_length=None)}[mode]
    config = SFTConfig(**_hf_common(args, cfg), gradient_checkpointing=False, dataset_num_proc=None, **options)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
                         callbacks=[Step()])
    trainer.train()


ARMS = {
    "gazelm": run_gazelm,
    "hf": lambda args, gate: run_hf(args, gate, group_by_length=False),
    "hf_grouped": lambda args, gate: run_hf(args, gate, group_by_length=True),
    "hf_grouped_retain": lambda args, gate: (retain_freed_memory(), run_hf(args, gate, group_by_length=True)),
    "trl_packed": lambda args, gate: run_trl(args, gate, "packed"),
    "trl_grouped": lambda args, gate: run_trl(args, gate, "grouped"),
    "trl_padding_free": lambda args, gate: run_trl(args, gate, "padding_free"),
}


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["seq2seq", "causal"], default="seq2seq")
    # defaults: 5 warm-up steps, then 25 × 5 = 125 timed steps = one epoch of 2,000 examples at batch
    # 16, so each arm's timed steps hold as many batches as an epoch: HF's sampler puts each epoch's
    # longest batches first; the warm-up skips them in epoch 1 and the timed steps meet epoch 2's
    # (a window that stopped at the end of epoch 1 would leave HF's most expensive batches untimed)
    p.add_argument("--rounds", type=int, default=25, help="interleaved rounds")
    p.add_argument("--steps", type=int, default=5, help="training steps per arm per round")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per arm before the rounds")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=int(os.environ.get("GAZELM_BENCH_THREADS", "2")),
                   help="torch threads of every arm (CPU)")
    p.add_argument("--arms", nargs="+", default=None, help="arms to run (default: gazelm, its peers and hf)")
    p.add_argument("--gazelm-overrides", nargs="*", default=[], help="Hydra overrides for the gazelm arm(s)")
    p.add_argument("--variants", nargs="*", default=[],
                   help="extra gazelm arms, each a '|'-separated list of overrides (e.g. 'data.packing=true'); "
                        "shown as reference rows")
    p.add_argument("--gpu", action="store_true",
                   help="~341M-parameter causal LM on CUDA in bf16: tokens/s, MFU and peak GPU memory per arm")
    p.add_argument("--dry-run", action="store_true",
                   help="with --gpu: the same arms, variants and report on CPU with the tiny model (checks a --gpu "
                        "command's arguments, imports and arms without a GPU; nothing it prints is a GPU figure)")
    p.add_argument("--keep-going", action="store_true",
                   help="an arm that fails (e.g. a peer library missing) is left out and named in the report "
                        "instead of stopping the benchmark; gazelm's own arm still stops it")
    p.add_argument("--save-rounds", default=None, metavar="JSON", help="write every arm's per-round rates here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.gpu:
        args.kind = "causal"
    args.cuda = args.gpu and not args.dry_run
    return args


def gpu_report(result, args) -> None:
    """Model FLOPs utilisation per arm: 6 · N · tokens/s ÷ the peak (the same N for every arm)."""
    params = result.extra["gazelm"].get("params", 0)
    peak = float(os.environ.get("GAZELM_PEAK_TFLOPS", "989")) * 1e12  # H100/H200 SXM dense bf16
    where = "GPU" if args.cuda else "CPU dry run, not a GPU figure"
    print(f"model FLOPs utilisation = 6·N·tokens/s ÷ {peak / 1e12:.0f} TFLOP/s (GAZELM_PEAK_TFLOPS), "
          f"N = {params / 1e6:.1f} M parameters ({where}):")
    print(f"{'arm':<44}{'tokens/s':>12}{'MFU':>8}{'GPU peak MB':>13}")
    for arm in result.arms:
        rate = result.median_rate(arm)
        print(f"{arm:<44}{rate:>12,.0f}{6 * params * rate / peak:>8.1%}{result.gpu_peak_mb.get(arm, 0):>13,.0f}")


def main() -> None:
    args = parse()
    arm = worker_arm()
    if arm:
        _threads(args)
        sync = gpu_peak_mb = None
        if args.cuda:
            import torch

            sync = torch.cuda.synchronize
            gpu_peak_mb = lambda: torch.cuda.max_memory_allocated() / 2**20  # noqa: E731
        if arm.startswith("gazelm["):  # a variant: gazelm[override|override]
            serve(lambda gate: run_gazelm(args, gate, variant=arm[len("gazelm["):-1]), sync=sync,
                  gpu_peak_mb=gpu_peak_mb)
        else:
            serve(lambda gate: ARMS[arm](args, gate), sync=sync, gpu_peak_mb=gpu_peak_mb)
        return
    peers = PEERS[args.kind]
    variants = [f"gazelm[{v}]" for v in args.variants]
    arms = (args.arms or ["gazelm", *peers, *REFERENCES]) + variants
    device = "GPU" if args.cuda else f"{args.threads} threads" + (" (--gpu --dry-run)" if args.gpu else "")
    print(f"{args.kind}: {args.rounds} rounds × {args.steps} steps per arm (after {args.warmup} warm-up steps), "
          f"batch {args.batch_size}, {device}; gazelm overrides: {' '.join(args.gazelm_overrides) or '(none)'}")
    if args.cuda:
        import torch

        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    result = run_rounds(arms, rounds=args.rounds, steps=args.steps, warmup=args.warmup, keep_going=args.keep_going,
                        required=["gazelm"])
    if args.save_rounds:
        save_rounds(result, args.save_rounds)
    if args.gpu:
        gpu_report(result, args)
    peers = [a for a in arms if a in peers]
    report(result, "gazelm", peers, "tokens",
           references=[a for a in arms if a in REFERENCES or a in OPTIONAL_REFERENCES or a in variants])


if __name__ == "__main__":
    main()
