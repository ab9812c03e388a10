#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test of the project.
# `.ci/run` calls exactly this script. No GPU needed: wgpu tests run on Mesa lavapipe, WebGPU
# tests on Chromium's SwiftShader.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# System packages: Vulkan on the CPU (lavapipe) for the wgpu backend.
if ! dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# numpy, for the index's numpy-interoperability test (required, not skipped), in a venv so a
# system Python that refuses pip installs (PEP 668) is left alone.
PYENV_DIR="${PYENV_DIR:-target/test-python}"
if ! "$PYENV_DIR/bin/python" -c "import numpy" 2>/dev/null; then
  python3 -m venv "$PYENV_DIR" 2>/dev/null || {
    $SUDO apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$PYENV_DIR"; }
  "$PYENV_DIR/bin/pip" install -q numpy
fi
export PYTHON="$PWD/$PYENV_DIR/bin/python" VECTOR_INDEX_REQUIRE_NUMPY=1

# One dependency graph, built once: tests use the dev profile (dependencies at opt-level 2).
status=0
cargo test --workspace --no-fail-fast 2>&1 || status=$?

# The npm package from the same checkout: wasm32 build (wasm-bindgen-cli installed on first
# use), the packed tarball in an empty directory, Node on the CPU and on WebGPU (Dawn on
# SwiftShader), headless Chromium on WebGPU and the CPU, and the demo page. The wasm32
# artifacts go under target/ too (target/wasm32-unknown-unknown), so one `rm -rf target` cleans.
CARGO_TARGET_DIR="$PWD/target" bash npm/scripts/test-all.sh || status=$?
exit $status
