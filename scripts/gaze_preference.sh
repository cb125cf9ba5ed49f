#!/usr/bin/env bash
# Prints the command lines of the gaze-path preference experiment (SFT vs SFT + preference).
set -euo pipefail
cat <<'CMDS'
gazelm train -m experiment=gaze_preference
gazelm train -m experiment=gaze_preference model=deepseek_coder_1_3b trainer=gpu   # LoRA: π_ref = adapters disabled
gazelm train -m experiment=gaze_preference model=deepseek_coder_1_3b launcher=submitit_slurm trainer=ddp \
    trainer.devices=4 hydra.launcher.partition=gpu hydra.launcher.account=YOUR_ACCOUNT
gazelm report outputs/multiruns/<date>/<time> --baseline objective=eyemulator
CMDS
