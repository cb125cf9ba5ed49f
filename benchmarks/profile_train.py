"""Where a gazelm training step spends its time: ``torch.profiler`` over a few Lightning steps.

Same setup as ``train_throughput.py``'s gazelm arm (tiny model built from config, python_stdlib
data, batch 16); prints the top operators by self CPU time and the share of the step spent
outside operators (Python: Lightning hooks, logging, data loading, collation).

    python benchmarks/profile_train.py [--kind causal|seq2seq] [--steps 10] [--top 15] [overrides ...]

Extra positional arguments are Hydra overrides of the gazelm config (``compile=true`` …).
The last line is ``RATIO <operator time ÷ step time>`` (the share of the step the operators take).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["seq2seq", "causal"], default="causal")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--threads", type=int, default=int(os.environ.get("GAZELM_BENCH_THREADS", "2")))
    p.add_argument("--sort", default="self_cpu_time_total")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()

    import lightning as L
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    import train_throughput as tt

    torch.set_num_threads(args.threads)
    bench_args = tt.parse(["--kind", args.kind, "--gazelm-overrides", *args.overrides])
    cfg, datamodule, module = tt._components(bench_args, gazelm=True)
    if cfg.get("retain_freed_memory", True):  # as `gazelm train` does
        tt.retain_freed_memory()
    state = {"prof": None, "start": None, "elapsed": None, "ctx": None}

    class Window(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == args.warmup:
                state["prof"] = profile(activities=[ProfilerActivity.CPU], record_shapes=False)
                state["prof"].__enter__()
                state["start"] = time.perf_counter()
            if state["prof"] is not None and state["elapsed"] is None:
                state["ctx"] = record_function("## training step ##")
                state["ctx"].__enter__()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if state["ctx"] is not None:
                state["ctx"].__exit__(None, None, None)
                state["ctx"] = None
            if batch_idx == args.warmup + args.steps - 1:
                state["elapsed"] = time.perf_counter() - state["start"]
                state["prof"].__exit__(None, None, None)

    trainer = L.Trainer(max_steps=args.warmup + args.steps, accelerator="cpu", devices=1, logger=False,
                        callbacks=[Window()], enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        use_distributed_sampler=False, gradient_clip_val=cfg.trainer.gradient_clip_val,
                        log_every_n_steps=cfg.trainer.log_every_n_steps)
    trainer.fit(module, datamodule=datamodule)
    events = state["prof"].key_averages()
    print(events.table(sort_by=args.sort, row_limit=args.top, max_name_column_width=48))
    step_us = sum(e.cpu_time_total for e in events if e.key == "## training step ##")
    ops_us = sum(e.self_cpu_time_total for e in events if not e.key.startswith("##"))
    print(f"{args.kind}, {args.steps} steps, {torch.get_num_threads()} threads, overrides: {' '.join(args.overrides)}")
    print(f"wall time {state['elapsed']:.2f} s ({1000 * state['elapsed'] / args.steps:.0f} ms/step); "
          f"inside training_step hooks {step_us / 1e6:.2f} s; operators (self CPU) {ops_us / 1e6:.2f} s")
    print(f"RATIO {ops_us / 1e6 / state['elapsed']:.2f}")


if __name__ == "__main__":
    main()
