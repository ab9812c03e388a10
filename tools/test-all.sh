#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test of the project. `.ci/run` calls
# exactly this script. No GPU needed: wgpu tests run on Mesa lavapipe, WebGPU tests on
# Chromium's SwiftShader (see tools/setup-test-machine.sh for what gets installed).
#
# usage: bash tools/test-all.sh [--full]
#
#   (default)  what CI runs, sized to finish in <= 45 minutes on 2 cores from a cold start:
#              every test, with the software-GPU parity checks on a representative subset of
#              the reference cases (tests/fixtures/reference/software_gpu_cases.txt: text only,
#              one image, text + image, an odd patch grid, two images, a padded batch), and the
#              npm package built in the dev profile without wasm-opt.
#   --full     the exhaustive device matrix: every reference case on wgpu and WebGPU, every
#              CLI case on wgpu, the npm package built in its release profile. Run it before a
#              release and after any change to kernels, shapes or device code (not timed yet:
#              expect well over an hour on 2 cores).
#
# Each step's time is printed at the end, so a slow step shows up in every run.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$arg' (usage: bash tools/test-all.sh [--full])" >&2; exit 2 ;;
  esac
done

source tools/steps.sh
title="tools/test-all.sh$([ $full = 1 ] && echo ' --full' || true)"
# The native and the wasm32 build share one target directory (and so their host build).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$CARGO_TARGET_DIR"
npm_timings="$CARGO_TARGET_DIR/npm-timings.txt"
finish() {
  local rc=$?
  steps_summary "$title" $rc
  [ -f "$npm_timings" ] && sed 's/^/          npm: /' "$npm_timings"
  return $rc
}
trap finish EXIT

step "setup: system packages, wasm32 target, wasm-bindgen-cli, numpy"
bash tools/setup-test-machine.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export PYTHON="$PWD/${PYENV_DIR:-target/test-python}/bin/python" VECTOR_INDEX_REQUIRE_NUMPY=1
if [ $full = 1 ]; then
  export QWEN3_VL_FULL_MATRIX=1 QWEN3_VL_GPU_CASES="" WASM_PROFILE=release
else
  # The dev profile shares its host build (proc macros, build scripts) with the native tests
  # and skips LTO: minutes less than a release build, same code. wasm-opt took over 4 minutes on
  # the dev build's larger module; it only shrinks and speeds up the shipped file, so it runs
  # with --full (release) only.
  export WASM_PROFILE="${WASM_PROFILE:-dev}" WASM_OPT="${WASM_OPT:-0}"
fi

status=0
# One style (rustfmt.toml): seconds, and no build needed.
step "cargo fmt --all --check"
cargo fmt --all --check || status=$?

# One dependency graph, built once, in the dev profile (see Cargo.toml), and clippy's lints on
# every workspace target with warnings as errors, as `cargo clippy --workspace --all-targets --
# -D warnings` checks them, inside that build: clippy-driver (rustc plus the lints) compiles the
# workspace crates, rustc the dependencies. A separate `cargo clippy` would type-check every
# dependency a second time, minutes on 2 cores, since check and build artifacts are not shared.
# Both cargo commands get the same variables, so the second one rebuilds nothing.
clippy_env=(RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
  CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__")
# The benchmark worker (benches/model/worker.rs) is a binary behind a feature: built and linted
# here too, or it rots unseen. Every cargo command below gets the same features, so nothing is
# built twice.
features=(--features qwen3-vl-embed-cli/bench-worker)
step "cargo build + clippy -D warnings: every target (dev profile)"
env "${clippy_env[@]}" cargo test --workspace "${features[@]}" --no-run --all-targets

step "cargo test --workspace$([ $full = 1 ] && echo ' (QWEN3_VL_FULL_MATRIX=1)' || true)"
env "${clippy_env[@]}" cargo test --workspace "${features[@]}" --no-fail-fast 2>&1 || status=$?

# The CPU kernels' fallbacks, forced on any CPU (QWEN3_VL_CPU_KERNELS caps the level): the CPU
# bf16, int8 and q4 parity tests again with the AVX2 kernels (exact f32 activations for bf16,
# the path a CPU without AVX-512 takes) and the portable ones (every other architecture, wasm32).
# The same variable caps the CPU attention's softmax (crates/attention-kernels), so these runs
# also take its AVX2 and portable paths through the whole model.
for level in avx2 scalar; do
  step "CPU kernel fallback: bf16/int8/q4 parity at QWEN3_VL_CPU_KERNELS=$level"
  env "${clippy_env[@]}" QWEN3_VL_CPU_KERNELS=$level cargo test --workspace "${features[@]}" --test parity -- \
    bf16_weights_on_cpu int8_weights_stay_close_on_cpu q4_weights_stay_close_on_cpu 2>&1 || status=$?
done

# The same kernels built for wasm32 with SIMD128 (the npm package's CPU path), unit-tested in
# Node's WASI against the same scalar and float64 references: wasm has no feature detection, so
# this is the only place the SIMD128 kernels run outside the npm tests. A small separate build
# (rayon, half, gemm), a minute.
step "linear-kernels and attention-kernels on wasm32 + SIMD128 (Node WASI)"
CARGO_TARGET_WASM32_WASIP1_RUNNER="node $PWD/tools/wasi-run.mjs" \
  cargo test -p linear-kernels -p attention-kernels --target wasm32-wasip1 --lib 2>&1 || status=$?

# The npm package from the same checkout: wasm32 build, the packed tarball in an empty
# directory, Node on the CPU and on WebGPU (Dawn on SwiftShader), headless Chromium on WebGPU
# and the CPU, the demo page and the example extension. Its own steps' times follow the summary.
step "npm package: npm/scripts/test-all.sh (wasm build profile: $WASM_PROFILE)"
rm -f "$npm_timings"
# The wasm32 build gets the same clippy lints (-D warnings) on the wasm-only code paths. The
# cross-target tests compare Node and Chromium with the CLI the build above made.
env "${clippy_env[@]}" TIMINGS="$npm_timings" QWEN3_VL_CLI="$CARGO_TARGET_DIR/debug/qwen3-vl-embed" \
  bash npm/scripts/test-all.sh || status=$?
exit $status
