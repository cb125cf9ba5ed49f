"""docs/scaling.md cannot drift: every command on the page composes (GPU, FSDP, SLURM lines) or
runs (the CPU lines, in the slow test), and the benchmark line parses."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests.conftest import ROOT
from tests.helpers.compose import compose_config
from tests.helpers.docs import commands as page_commands

DOC = ROOT / "docs" / "scaling.md"


def commands() -> list[list[str]]:
    return page_commands(DOC)


def overrides(command: list[str]) -> list[str]:
    """A ``gazelm train`` line's overrides; a sweep (``-m a=x,y``) composes with its first values."""
    return [o.split(",")[0] if "=" in o and "{" not in o else o for o in command[2:] if o != "-m"]


def test_every_train_line_composes_with_the_trainer_it_asks_for() -> None:
    lines = [c for c in commands() if c[:2] == ["gazelm", "train"]]
    assert len(lines) == 6
    for line in lines:
        cfg = compose_config(overrides(line))
        given = dict(o.split("=", 1) for o in overrides(line))
        assert cfg.trainer.devices == int(given.get("trainer.devices", cfg.trainer.devices))
        if OmegaConf.is_dict(cfg.trainer.get("strategy")):
            instantiate(cfg.trainer.strategy)  # the FSDP strategy and its wrap policy build
        if given.get("launcher") == "submitit_slurm":
            assert cfg.hydra.launcher.nodes == cfg.trainer.num_nodes == int(given.get("trainer.num_nodes", 1))
            assert cfg.hydra.launcher.tasks_per_node == cfg.trainer.devices


def test_benchmark_line_parses() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import train_throughput

    lines = [c for c in commands() if c[:2] == ["python", "benchmarks/train_throughput.py"]]
    assert len(lines) == 1
    args = train_throughput.parse(lines[0][2:])
    assert args.gpu and args.kind == "causal"
    cfg = compose_config(train_throughput._overrides(args, gazelm=True))  # what every GPU arm builds
    assert (cfg.model.config.hidden_size, cfg.model.config.num_hidden_layers) == (1024, 24)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"


@pytest.mark.slow
def test_cpu_line_runs(tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    """``trainer=ddp_sim`` (2 CPU processes): the one line a CPU machine can run, in a cheap form."""
    line = next(c for c in commands() if "trainer=ddp_sim" in c)
    cheap = [sys.executable, "-m", "gazelm.cli.train", *line[2:], "debug=fdr", "model.tokenizer.vocab_size=600",
             f"paths.cache_dir={shared_cache}", f"hydra.run.dir={tmp_path}",
             "data.source.max_examples={train: 32, val: 8, test: 8}"]
    r = subprocess.run(cheap, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
