#!/usr/bin/env bash
# Index benchmark: vector-index (exact, HNSW) vs faiss-cpu (IndexFlatIP, IndexHNSWFlat) and
# hnswlib on the same clustered synthetic data; prints one table.
#
#   benches/index/run.sh                      # N = 10k, 100k x d = 512, 2048 (long: see below)
#   SIZES="10000x512" QUERIES=500 benches/index/run.sh
#
# Env: SIZES (NxD list), QUERIES (default 1000), EF (ef_search sweep), EF_CONSTRUCTION (100),
# VENV (python venv, default /tmp/vector-index-bench-venv), OUT (default /tmp/vector-index-bench),
# CARGO_TARGET_DIR, BENCH_ARGS (extra args for the Rust side, e.g. --no-heuristic).
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZES=${SIZES:-"10000x512 10000x2048 100000x512 100000x2048"}
QUERIES=${QUERIES:-1000}
EF=${EF:-"10,16,24,32,48,64,96,128,192,256"}
EF_CONSTRUCTION=${EF_CONSTRUCTION:-100}
VENV=${VENV:-/tmp/vector-index-bench-venv}
OUT=${OUT:-/tmp/vector-index-bench}

if ! "$VENV/bin/python" -c "import faiss, hnswlib, numpy" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy faiss-cpu hnswlib
fi

cargo bench -p vector-index --bench index --no-run
dirs=()
for size in $SIZES; do
    n=${size%x*}; d=${size#*x}
    dir="$OUT/$size"
    cargo bench -q -p vector-index --bench index -- --n "$n" --dim "$d" --queries "$QUERIES" \
        --ef "$EF" --ef-construction "$EF_CONSTRUCTION" --out "$dir" ${BENCH_ARGS:-}
    dirs+=("$dir")
done
"$VENV/bin/python" benches/index/compare.py "${dirs[@]}"
