#!/usr/bin/env bash
# Speed/memory benchmark: our embedder vs PyTorch + transformers on the real Qwen3-VL-Embedding-2B
# architecture with random weights, in one run, interleaved. See benches/model/README.md.
#
#   benches/model/run.sh                               # everything (long on a small CPU)
#   CASES=text32,img512 REPS=3 benches/model/run.sh    # a subset
#
# Env: CASES (text32,img512,img1280,batch16), REPS (5), THREADS (all cores), TORCH (f32,bf16;
# cuda-bf16 is added when PyTorch sees a GPU), OURS_DEVICES (cpu; cpu,wgpu on a GPU machine;
# DEVICE:DTYPE entries such as cpu:bf16 or wgpu:f16 load that precision; a :noprefix suffix,
# as in cpu:bf16:noprefix, turns off the reuse of the instruction prefix's keys and values),
# CHECKPOINT (default target/bench-model/qwen3-vl-embedding-2b-random), OUT (/tmp/qwen3-vl-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."

CHECKPOINT=${CHECKPOINT:-target/bench-model/qwen3-vl-embedding-2b-random}
OUT=${OUT:-/tmp/qwen3-vl-bench}
THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-5}
CASES=${CASES:-text32,img512,img1280,batch16}

bash tools/reference/setup.sh >/dev/null       # PyTorch + transformers venv in ref-work/venv
PY=ref-work/venv/bin/python
if [ -z "${TORCH:-}" ]; then
    TORCH=f32,bf16
    if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then TORCH=$TORCH,cuda-bf16; fi
fi
if [ -z "${OURS_DEVICES:-}" ]; then
    OURS_DEVICES=cpu
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then OURS_DEVICES=cpu,wgpu; fi
fi

"$PY" benches/model/make_checkpoint.py "$CHECKPOINT"
# A feature-gated binary of the CLI package: the same dependency graph as `cargo build --release`.
cargo build --release -p qwen3-vl-embed-cli --features bench-worker --bin qwen3-vl-embed-bench-worker
BIN=${CARGO_TARGET_DIR:-target}/release/qwen3-vl-embed-bench-worker

mkdir -p "$OUT"
"$PY" benches/model/driver.py --model "$CHECKPOINT" --ours "$BIN" --threads "$THREADS" --reps "$REPS" \
    --cases "$CASES" --ours-devices "$OURS_DEVICES" --torch "$TORCH" --out "$OUT" | tee "$OUT/table.md"
