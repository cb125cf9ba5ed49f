#!/usr/bin/env bash
# Prints the command lines of the EyeMulator ablation (conf/experiment/eyemulator_ablation.yaml):
# arm {ce, eyemulator, uniform, random, shuffled, no_semantic, no_rarity} × task × seeds 42, 12345.
# Run a line yourself; nothing is executed here.
set -euo pipefail
cat <<'CMDS'
# 0. Check every job's config first, and see the jobs (and, with launcher=submitit_slurm, the sbatch script)
gazelm train -m experiment=eyemulator_ablation --dry-run

# 1. Tiny causal model on this machine's CPU (pipeline check; 42 jobs)
gazelm train -m experiment=eyemulator_ablation

# 2. One GPU, a real backbone (LoRA r=32/α=64, bf16, lr 1e-4, effective batch 16, 3 epochs, greedy)
gazelm train -m experiment=eyemulator_ablation model=qwen2_5_coder_1_5b trainer=gpu \
    data.source.path=/path/to/eyemulator/corpus task.max_source_length=1024

#    other backbones of the paper: model=starcoderbase_1b | llama_3_2_1b | deepseek_coder_1_3b
#    low-data regime (200 training examples) is the experiment's default; full data:
#    data.source.max_examples.train=null

# 3. One node, 4 GPUs, DDP inside the sweep (one sweep dir; each job uses all 4 GPUs)
gazelm train -m experiment=eyemulator_ablation model=deepseek_coder_1_3b trainer=ddp trainer.devices=4 \
    trainer.accumulate_grad_batches=1

# 4. SLURM: one job per sweep job (edit conf/launcher/submitit_slurm.yaml or override here)
gazelm train -m experiment=eyemulator_ablation launcher=submitit_slurm model=qwen2_5_coder_1_5b \
    trainer=ddp trainer.devices=4 trainer.accumulate_grad_batches=1 \
    hydra.launcher.partition=gpu hydra.launcher.account=YOUR_ACCOUNT hydra.launcher.timeout_min=720

# 5. The table: mean ± std over seeds, paired tests against the CE arm
gazelm report outputs/multiruns/<date>/<time> --baseline +ablation=ce
CMDS
