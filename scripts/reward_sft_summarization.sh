#!/usr/bin/env bash
# Prints the command lines of the reward-guided SFT experiment (CE vs reward_sft, summarization).
set -euo pipefail
cat <<'CMDS'
# tiny T5 on CPU
gazelm train -m experiment=reward_sft_summarization
# CodeT5-small on one GPU; the attention_motif reward reads cross-attention (eager attention is set for you)
gazelm train -m experiment=reward_sft_summarization model=codet5_small trainer=gpu
# self-critical sequence reward instead of the attention reward
gazelm train -m experiment=reward_sft_summarization model=codet5_small trainer=gpu objective.reward=bleu
# SLURM
gazelm train -m experiment=reward_sft_summarization model=codet5_small launcher=submitit_slurm trainer=gpu \
    hydra.launcher.partition=gpu hydra.launcher.account=YOUR_ACCOUNT
gazelm report outputs/multiruns/<date>/<time> --baseline objective=ce
CMDS
