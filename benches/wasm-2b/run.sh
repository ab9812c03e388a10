#!/usr/bin/env bash
# The 2B model (random weights, benches/model/make_checkpoint.py) in the npm package: converted
# to int8 and q4 by the CLI, loaded and run in Node and headless Chromium, on the CPU path
# (wasm32 + SIMD128) and on WebGPU, against the native CLI's worker in the same precision and
# our native f32 vector. See README.md.
#
#   bash benches/wasm-2b/run.sh
#
# Env: CHECKPOINT (default target/bench-model/qwen3-vl-embedding-2b-random; the converted
# directories go next to it as CHECKPOINT-int8 and CHECKPOINT-q4), OUT (/tmp/qwen3-vl-wasm-bench),
# SKIP_BUILD=1 (reuse npm/dist and the release worker), RUNS (runtime:device:precision list,
# default node:cpu:int8,node:cpu:q4,chromium:cpu:q4; add node:webgpu:q4,chromium:webgpu:q4 for
# WebGPU, hours on a software adapter),
# VK_ICD_FILENAMES (Node's WebGPU driver; default: Chromium's SwiftShader, as in the tests).
set -euo pipefail
cd "$(dirname "$0")/../.."

CHECKPOINT=${CHECKPOINT:-target/bench-model/qwen3-vl-embedding-2b-random}
OUT=${OUT:-/tmp/qwen3-vl-wasm-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$OUT"

bash tools/reference/setup.sh >/dev/null       # Python venv with Pillow (screenshots) and PyTorch
PY=ref-work/venv/bin/python
"$PY" benches/model/make_checkpoint.py "$CHECKPOINT"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # The release npm package (wasm32 + SIMD128, wasm-opt) and the release CLI + bench worker.
    (cd npm && npm ci --no-audit --no-fund && WASM_PROFILE=release npm run build)
    cargo build --release -p qwen3-vl-embed-cli --features bench-worker --bin qwen3-vl-embed-bench-worker --bin qwen3-vl-embed
fi
BIN=$CARGO_TARGET_DIR/release

for precision in int8 q4; do
    if [ ! -f "$CHECKPOINT-$precision/qwen3-vl-embed-format.json" ]; then
        rm -rf "$CHECKPOINT-$precision"
        "$BIN/qwen3-vl-embed" convert --precision "$precision" --out "$CHECKPOINT-$precision" "$CHECKPOINT"
    fi
done

# The same text32 and text + 512x512 inputs as benches/model.
"$PY" - "$OUT" <<'PY'
import json, os, sys
sys.path.insert(0, "benches/model")
import driver
cases = driver.make_cases(sys.argv[1], ["text32", "img512"])
json.dump({"text32": cases["text32"][0], "img512": cases["text+512x512"][0]}, open(os.path.join(sys.argv[1], "cases.json"), "w"))
PY

# Node's WebGPU (Dawn) on the same software Vulkan driver as Chromium's and the npm tests.
SWIFTSHADER=/usr/lib/chromium/vk_swiftshader_icd.json
[ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$SWIFTSHADER" ] && export VK_ICD_FILENAMES=$SWIFTSHADER
(cd npm && npm ls webgpu >/dev/null 2>&1) || (cd npm && npm install --no-audit --no-fund --no-save \
    "webgpu@$(node -p "require('./package.json').devDependencies.webgpu")")

node benches/wasm-2b/compare.mjs ${RUNS:+--runs "$RUNS"} --bf16 "$CHECKPOINT" --int8 "$CHECKPOINT-int8" --q4 "$CHECKPOINT-q4" \
    --worker "$BIN/qwen3-vl-embed-bench-worker" --cases "$OUT/cases.json" --out "$OUT" | tee "$OUT/table.md"
