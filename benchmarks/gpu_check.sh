#!/usr/bin/env bash
# The GPU check of gazelm (issue 14), in one run: environment, training throughput (gazelm vs the
# best-configured peers, tokens/s, MFU, peak GPU memory; fused CE and packing variants), the fused
# cross-entropy at a large vocabulary, and the CUDA-only tests. From the repository root:
#
#   OUT=/some/folder bash benchmarks/gpu_check.sh                  # on a CUDA machine, ~4-6 min
#   GPU_CHECK_DRY=1 OUT=/tmp/gpu-dry bash benchmarks/gpu_check.sh  # the same commands on CPU, tiny sizes
#
# Every step has its own time limit and its own file in $OUT, so one failure loses nothing else:
#   0_env.txt  1_throughput.txt  2_fused_ce.txt  3_tests.txt  summary.txt (each step's exit status)
# Worst case (every step at its limit) 9.4 min, inside the 10-minute command limit; expected ~4-5 min.
set -u
set -o pipefail
: "${OUT:?set OUT to the folder for the outputs}"
mkdir -p "$OUT"
cd "$(dirname "$0")/.."

DRY=${GPU_CHECK_DRY:-0}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONHASHSEED=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
export GAZELM_PEAK_TFLOPS=${GAZELM_PEAK_TFLOPS:-989}   # H100/H200 SXM dense bf16 (datasheet)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

step() {  # step NAME LIMIT_S FILE COMMAND...: run with a time limit, tee to $OUT/FILE, record the status
  local name=$1 limit=$2 file=$3
  shift 3
  echo "== $name (limit ${limit}s): $*" | tee -a "$OUT/$file"
  local start=$SECONDS
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$OUT/$file"
  local rc=$?
  local verdict=ok
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && verdict="TIMED OUT"
  [ "$rc" -ne 0 ] && [ "$verdict" = ok ] && verdict=FAILED
  echo "$name: exit $rc ($verdict) in $((SECONDS - start)) s -> $file" | tee -a "$SUMMARY"
  return "$rc"
}

if [ "$DRY" = 1 ]; then
  echo "GPU_CHECK_DRY=1: CPU, tiny sizes; no figure below is a GPU figure" | tee -a "$SUMMARY"
  BENCH_DRY=(--dry-run --rounds 1 --steps 1 --warmup 1 --examples 48 --threads 1)
  FUSED_DRY=(--dry-run)
  export GAZELM_TEST_DEVICE=cpu OMP_NUM_THREADS=1
else
  BENCH_DRY=()
  FUSED_DRY=()
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}   # six worker processes on 16 cores
fi

# -- 0: the machine, the versions, and a fast import check (stops here if gazelm or CUDA is missing)
env_check() {
  nvidia-smi || echo "(no nvidia-smi)"
  "$PY" -VV
  "$PY" -m pip list 2>/dev/null | grep -iE '^(torch|triton|transformers|tokenizers|huggingface.hub|lightning|pytorch.lightning|accelerate|peft|trl|datasets|dill|multiprocess|liger.kernel|hydra.core|omegaconf|antlr4.python3.runtime|pyarrow|fsspec|numpy|pandas|safetensors|sacrebleu) '
  "$PY" - "$DRY" <<'EOF'
import importlib, sys, time
t = time.time()
import torch
dry = sys.argv[1] == "1"
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name()}, capability {torch.cuda.get_device_capability()}" if torch.cuda.is_available() else ""))
if not dry and not torch.cuda.is_available():
    sys.exit("FATAL: torch sees no CUDA device; nothing else can be measured")
for name in ["gazelm.training", "gazelm.models.fused_ce", "benchmarks.train_throughput"]:
    try:
        module = importlib.import_module(name)
    except Exception as err:
        sys.exit(f"FATAL: import {name} failed: {type(err).__name__}: {err}")
    print(f"import {name}: ok ({getattr(module, '__file__', '?')})")
for name in ["trl", "datasets", "liger_kernel.transformers.functional", "hydra", "omegaconf", "transformers"]:
    try:
        module = importlib.import_module(name)
        print(f"import {name}: ok {getattr(module, '__version__', '')} ({module.__file__})")
    except Exception as err:  # the arms / tests that need it are left out and say so
        print(f"WARNING: import {name} failed: {type(err).__name__}: {err}")
print(f"imports took {time.time() - t:.1f} s")
EOF
}
export -f env_check
export PY DRY
if ! step "0 environment" 60 0_env.txt bash -c env_check; then
  echo "stopping: the environment check failed (see 0_env.txt)" | tee -a "$SUMMARY"
  exit 3
fi

# -- 1: training throughput, interleaved arms: gazelm vs HF Trainer (group_by_length) vs TRL SFTTrainer
#       (packing; padding-free), plus gazelm with the fused CE and with packing (SDPA)
step "1 throughput" 240 1_throughput.txt \
  "$PY" benchmarks/train_throughput.py --gpu --keep-going --rounds 8 --steps 10 --warmup 5 \
  --arms gazelm hf_grouped trl_packed trl_padding_free \
  --variants "model.fused_ce=true" "data.packing=true" "${BENCH_DRY[@]}"

# -- 2: fused cross-entropy vs the plain label-only head at a 151,936-token vocabulary
step "2 fused_ce" 120 2_fused_ce.txt "$PY" benchmarks/fused_ce.py "${FUSED_DRY[@]}"

# -- 3: the CUDA-only tests (marked `cuda`) and the CPU tests of the same files
step "3 tests" 140 3_tests.txt \
  "$PY" -m pytest -q -rs -p no:cacheprovider --timeout 120 \
  tests/unit/test_fused_ce.py tests/unit/test_packing.py tests/unit/test_optim_config.py tests/unit/test_registry.py \
  tests/integration/test_gpu_train.py

echo "done; outputs in $OUT" | tee -a "$SUMMARY"
