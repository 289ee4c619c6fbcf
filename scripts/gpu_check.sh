#!/usr/bin/env bash
# GPU check, run from the repo root on a machine with an NVIDIA GPU and PyTorch:
#   1. scripts/bench_train.py at batch 32 and 128 (melodia against a bare loop, both bf16 autocast);
#   2. the default model's settings for 2,000 steps on one GPU (a fixed count, not a time);
#   3. torchrun on NCCL, killed with SIGKILL after a checkpoint, then resumed to the end.
# Needs the folk corpus in the cache ($MELODIA_CACHE, else ~/.cache/melodia): build it first, or carry
# tokens.u16, index.json and tokenizer.json of a built one. Outputs go to $OUT (default gpu-check-output).
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-gpu-check-output}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
echo "== bench_train on the GPU"
timeout 150 python3 scripts/bench_train.py --steps 200 2>&1 | tee "$OUT/bench_train_gpu.txt"
timeout 150 python3 scripts/bench_train.py --steps 200 --batch 128 2>&1 | tee -a "$OUT/bench_train_gpu.txt"
echo "== default-model settings, 2,000 steps on one GPU"
timeout 240 python3 -m melodia.apps.cli train --config scripts/default_model.toml --set max_steps=2000 \
  --set checkpoint_minutes=1 -o "$OUT/gpu2000.safetensors" --quiet 2>&1 | tail -25
echo "== torchrun on NCCL: killed after a checkpoint, then resumed"
S="--corpus folk --set max_steps=400 --set checkpoint_steps=50 --set epochs=1"
setsid torchrun --standalone --nproc_per_node=1 -m melodia.apps.cli train $S -o /tmp/k.safetensors > /tmp/first.log 2>&1 &
P=$!
for _ in $(seq 1 240); do [ -f /tmp/k.safetensors.ckpt ] && break; sleep 0.25; done
sleep 3
kill -9 -- -$P; wait $P 2>/dev/null
echo "killed; model file written before the kill: $(ls /tmp/k.safetensors 2>/dev/null || echo none)"
timeout 200 torchrun --standalone --nproc_per_node=1 -m melodia.apps.cli train $S -o /tmp/k.safetensors --resume --quiet \
  2>&1 | tail -3 | tee "$OUT/resume.txt"
