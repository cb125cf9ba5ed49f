#!/usr/bin/env bash
# Prints the command lines of FixATE for code (conf/experiment/fixate_code.yaml): personal soft prompts
# on a frozen causal LM, EyeLink Python comprehension study. Run a line yourself; nothing is executed here.
set -euo pipefail
cat <<'CMDS'
# 1. One run on this machine's CPU (tiny backbone, glimpse_fixate, K = 6)
gazelm train experiment=fixate_code

# 2. A backbone that has learnt some code: train one with gazelm, then tune prompts on it
gazelm train model=tiny_causal_k6 task=completion hydra.run.dir=outputs/runs/code-lm
gazelm export checkpoint=outputs/runs/code-lm/checkpoints/last.ckpt out=outputs/code-lm-hf
gazelm train experiment=fixate_code model=pretrained model.name_or_path=outputs/code-lm-hf model.add_bos=true

# 3. A real checkpoint on one GPU (frozen: no LoRA), FixATE's 30 epochs
gazelm train experiment=fixate_code model=qwen2_5_coder_0_5b model.lora.enabled=false trainer=gpu trainer.max_epochs=30

# 4. The ablation multirun: operator {rollout, glimpse_fixate, attnlrp_fixate} × 6 arms × seeds 0, 1
gazelm train -m experiment=fixate_code

# 5. New users: participant-disjoint split, each held-out person's first 2 trials fit only their z_u
gazelm train experiment=fixate_code data.source.scheme=participant data.source.new_user_shots=2

# 6. The table: mean ± std over seeds, paired tests against full FixATE, per-participant Wilcoxon tests
gazelm report outputs/multiruns/<date>/<time> --baseline +ablation=fixate_full --metrics test/fixate_tf_kl test/fixate_tf_js test/fixate_acc
CMDS
