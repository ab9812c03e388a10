#!/usr/bin/env bash
# The npm package's whole test, from a clean clone:
#   1. tools/setup-test-machine.sh (wasm32 target, wasm-bindgen-cli at Cargo.lock's version,
#      Debian's Chromium: each installed when missing),
#   2. npm ci, 3. `npm run build` (wasm32 build, wasm-bindgen, wasm-opt), 4. npm pack,
#   5. the tarball installed in an empty directory: the README's Node example, then
#      `node --test` on the CPU and on WebGPU (Dawn for Node on SwiftShader),
#   6. headless Chromium: WebGPU, CPU, the demo page and the example extension.
# Each step's time is printed at the end (and written to $TIMINGS when set).
#
# Flags (environment):
#   SKIP_BUILD=1        reuse dist/ from an earlier build
#   BROWSER=0           skip the Chromium test
#   NODE_WEBGPU=0|1     Node on WebGPU; default: on when Chromium's SwiftShader Vulkan driver is there
#   QWEN3_VL_GPU_CASES  reference cases run on WebGPU (default: tests/fixtures/reference/software_gpu_cases.txt;
#                       '' = all of them)
#   INSTALL_CHROMIUM=0  never apt-get chromium (then no Chromium means the browser test fails)
#   CARGO_TARGET_DIR    wasm build directory (default: ../target-wasm next to the workspace)
#   WASM_PROFILE        cargo profile of the wasm build (default release; tools/test-all.sh uses dev)
#   QWEN3_VL_CLI        the qwen3-vl-embed binary the cross-target tests compare with (default
#                       $CARGO_TARGET_DIR/debug/qwen3-vl-embed; skipped when there is none)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(dirname "$root")/target-wasm}"
source "$root/tools/steps.sh"
summary() {
  local rc=$?
  steps_summary npm/scripts/test-all.sh $rc
  rm -rf "${tmp:-}"
}
trap summary EXIT
swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json

# wasm-bindgen-cli at Cargo.lock's version, the wasm32 target, Chromium: installed when missing
# (a no-op after tools/test-all.sh ran it).
step "setup (tools/setup-test-machine.sh)"
bash "$root/tools/setup-test-machine.sh"

cd "$here"
step "npm ci"
npm ci --no-audit --no-fund
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f dist/node.js ]; then
  step "reusing dist/ (SKIP_BUILD=1)"
else
  step "npm run build (cargo build --target wasm32-unknown-unknown --profile ${WASM_PROFILE:-release}, wasm-bindgen$(
    [ "${WASM_OPT:-1}" = 0 ] && echo ', no wasm-opt' || echo ', wasm-opt'))"
  npm run build
fi
step "npm pack + install the tarball in an empty directory"
tmp="$(mktemp -d)"
tarball="$(npm pack --pack-destination "$tmp" | tail -1)"
ls -l "$tmp/$tarball"
mkdir "$tmp/app"
cp -r test "$tmp/app/test"
cd "$tmp/app"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund "$tmp/$tarball"
export QWEN3_VL_FIXTURES="$root/tests/fixtures/"
# The cross-target tests (test/cli-library.js) compare against the CLI of the same checkout,
# which the workspace build of tools/test-all.sh made; they share one CLI-indexed library.
# A QWEN3_VL_CLI that was named must exist (tools/test-all.sh names it, so CI never skips them).
if [ -n "${QWEN3_VL_CLI:-}" ] && [ ! -x "$QWEN3_VL_CLI" ]; then
  echo "error: QWEN3_VL_CLI=$QWEN3_VL_CLI is not an executable" >&2
  exit 1
fi
cli_bin="${QWEN3_VL_CLI:-$CARGO_TARGET_DIR/debug/qwen3-vl-embed}"
if [ -x "$cli_bin" ]; then
  export QWEN3_VL_CLI="$cli_bin" QWEN3_VL_CROSS_DIR="$tmp/cross-target"
else
  echo "note: no CLI at $cli_bin (build it with cargo build -p qwen3-vl-embed-cli): cross-target tests skipped"
fi

step "README Node example"
sed -n '/<!-- node-example -->/,/<!-- \/node-example -->/p' "$here/README.md" | sed '1,2d;$d' | sed '$d' > readme-example.mjs
sed -i "s#./models/tiny-embedding#$root/tests/fixtures/models/tiny-embedding#" readme-example.mjs
node readme-example.mjs

step "node --test (CPU)"
QWEN3_VL_DEVICE=cpu node --test --test-reporter=spec test/node.test.js

node_webgpu="${NODE_WEBGPU:-auto}"
[ "$node_webgpu" = auto ] && { [ -f "$swiftshader" ] && node_webgpu=1 || node_webgpu=0; }
if [ "$node_webgpu" = 1 ]; then
  step "node --test (WebGPU: the webgpu package, Dawn, on SwiftShader)"
  npm install --no-audit --no-fund "webgpu@$(node -p "require('$here/package.json').devDependencies.webgpu")"
  # Dawn does not take Mesa 22's lavapipe; Chromium's SwiftShader Vulkan driver works.
  # SwiftShader compiles every kernel for every new shape on the CPU: a representative subset of
  # the reference cases by default, read from software_gpu_cases.txt by test/helpers.js
  # (QWEN3_VL_GPU_CASES='' runs all of them).
  env VK_ICD_FILENAMES="$swiftshader" QWEN3_VL_DEVICE=webgpu ${QWEN3_VL_GPU_CASES+"QWEN3_VL_CASES=$QWEN3_VL_GPU_CASES"} \
    node --test --test-reporter=spec test/node.test.js
fi

if [ "${BROWSER:-1}" = 1 ]; then
  step "headless Chromium (WebGPU on SwiftShader, CPU, demo page)"
  cd "$here" && QWEN3_VL_PACKAGE_DIR="$tmp/app/node_modules/qwen3-vl-embed" \
    node --test --test-reporter=spec test/browser.test.mjs
  step "headless Chromium: the example extension (web/extension/) loaded unpacked"
  QWEN3_VL_PACKAGE_DIR="$tmp/app/node_modules/qwen3-vl-embed" node --test --test-reporter=spec test/extension.test.mjs
fi
