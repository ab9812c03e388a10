#!/usr/bin/env bash
# The npm package's whole test, from a clean clone:
#   1. wasm-bindgen-cli at the version in Cargo.lock (cargo install, when missing),
#   2. npm ci, 3. `npm run build` (wasm32 release build, wasm-bindgen, wasm-opt), 4. npm pack,
#   5. the tarball installed in an empty directory: the README's Node example, then
#      `node --test` on the CPU and on WebGPU (Dawn for Node on SwiftShader),
#   6. headless Chromium (Debian's; apt-installed when missing): WebGPU, CPU and the demo page.
# Each step's time is printed at the end (and written to $TIMINGS when set).
#
# Flags (environment):
#   SKIP_BUILD=1        reuse dist/ from an earlier build
#   BROWSER=0           skip the Chromium test
#   NODE_WEBGPU=0|1     Node on WebGPU; default: on when Chromium's SwiftShader Vulkan driver is there
#   QWEN3_VL_GPU_CASES  reference cases run on WebGPU (default: 5 representative ones; '' = all 19)
#   INSTALL_CHROMIUM=0  never apt-get chromium (then no Chromium means the browser test fails)
#   CARGO_TARGET_DIR    wasm build directory (default: ../target-wasm next to the workspace)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(dirname "$root")/target-wasm}"
start=$SECONDS
last=$SECONDS
current=""
timings=()
step() {
  [ -n "$current" ] && timings+=("$(printf '%5ds  %s' $((SECONDS - last)) "$current")")
  current="$*"
  last=$SECONDS
  echo "== [$((SECONDS - start))s] $*"
}
summary() {
  local rc=$?
  [ -n "$current" ] && timings+=("$(printf '%5ds  %s' $((SECONDS - last)) "$current")")
  {
    echo "== npm/scripts/test-all.sh: $([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - start))s"
    printf '%s\n' "${timings[@]}"
  } | tee ${TIMINGS:+"$TIMINGS"}
  rm -rf "${tmp:-}"
}
trap summary EXIT
swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json
# Text only, one image, text + image, two images, a padded batch.
gpu_cases=text,image,text_image,two_images,batch

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  step "cargo install wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ "${BROWSER:-1}" = 1 ] && ! [ -x /usr/bin/chromium ] && [ "${INSTALL_CHROMIUM:-1}" = 1 ]; then
  step "apt-get install chromium"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cd "$here"
step "npm ci"
npm ci --no-audit --no-fund
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f dist/node.js ]; then
  step "reusing dist/ (SKIP_BUILD=1)"
else
  step "npm run build (cargo build --target wasm32-unknown-unknown, wasm-bindgen, wasm-opt)"
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
  # the reference cases by default (QWEN3_VL_GPU_CASES='' runs all of them).
  VK_ICD_FILENAMES="$swiftshader" QWEN3_VL_DEVICE=webgpu QWEN3_VL_CASES="${QWEN3_VL_GPU_CASES-$gpu_cases}" \
    node --test --test-reporter=spec test/node.test.js
fi

if [ "${BROWSER:-1}" = 1 ]; then
  step "headless Chromium (WebGPU on SwiftShader, CPU, demo page)"
  cd "$here" && QWEN3_VL_PACKAGE_DIR="$tmp/app/node_modules/qwen3-vl-embed" QWEN3_VL_GPU_CASES="${QWEN3_VL_GPU_CASES-$gpu_cases}" \
    node --test --test-reporter=spec test/browser.test.mjs
  step "headless Chromium: the example extension (web/extension/) loaded unpacked"
  QWEN3_VL_PACKAGE_DIR="$tmp/app/node_modules/qwen3-vl-embed" node --test --test-reporter=spec test/extension.test.mjs
fi
step "done"
current=""
