#!/usr/bin/env bash
# Fills vendor/ (the built npm package) and model/ (a model directory) so that this folder can
# be loaded as an unpacked extension (chrome://extensions -> Developer mode -> Load unpacked).
# Usage: web/extension/setup.sh [MODEL_DIR]   (default: the tiny test checkpoint)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
model="${1:-$root/tests/fixtures/models/tiny-embedding}"
[ -f "$root/npm/dist/browser.js" ] || (cd "$root/npm" && npm run build)
rm -rf "$here/vendor" "$here/model"
cp -r "$root/npm/dist" "$here/vendor"
mkdir "$here/model"
cp "$model"/config.json "$model"/tokenizer.json "$model"/*.safetensors* "$here/model/"
# A converted directory (qwen3-vl-embed convert --precision int8|q4) names its precision here.
[ ! -f "$model/qwen3-vl-embed-format.json" ] || cp "$model/qwen3-vl-embed-format.json" "$here/model/"
echo "ready: load $here as an unpacked extension"
