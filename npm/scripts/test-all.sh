#!/usr/bin/env bash
# Everything from a clean clone: wasm-bindgen-cli at the lock's version, npm ci, the wasm
# build, npm pack, then `node --test` against the tarball installed in an empty directory
# (CPU path, and WebGPU through the `webgpu` package + SwiftShader when chromium's ICD is
# there), then the headless-Chromium test when chromium is installed (BROWSER=0 skips it,
# INSTALL_CHROMIUM=1 apt-installs it).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(dirname "$root")/target-wasm}"
start=$SECONDS
step() { echo "== [$((SECONDS - start))s] $*"; }

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  step "installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi

cd "$here"
step "npm ci"
npm ci --no-audit --no-fund
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f dist/node.js ]; then
  step "reusing dist/ (SKIP_BUILD=1)"
else
  step "npm run build"
  npm run build
fi
step "npm pack"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tarball="$(npm pack --pack-destination "$tmp" | tail -1)"
ls -l "$tmp/$tarball"

step "install the tarball in an empty directory"
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

# Opt-in: burn/cubecl on Dawn-for-Node aborts today (see src/node.js).
if [ "${NODE_WEBGPU:-0}" = 1 ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  step "node --test (WebGPU via the webgpu package on SwiftShader)"
  npm install --no-audit --no-fund "webgpu@$(node -p "require('$here/package.json').devDependencies.webgpu")"
  VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json QWEN3_VL_DEVICE=webgpu \
    QWEN3_VL_CASES="${QWEN3_VL_GPU_CASES-text,image,batch}" \
    node --test --test-reporter=spec test/node.test.js
fi

if [ "${BROWSER:-1}" = 1 ]; then
  if ! [ -x /usr/bin/chromium ] && [ "${INSTALL_CHROMIUM:-0}" = 1 ]; then
    step "apt-get install chromium"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
  if [ -x /usr/bin/chromium ] && [ -f "$here/test/browser.test.mjs" ]; then
    step "headless Chromium"
    cd "$here" && QWEN3_VL_PACKAGE_DIR="$tmp/app/node_modules/qwen3-vl-embed" node --test --test-reporter=spec test/browser.test.mjs
  fi
fi
step "done"
