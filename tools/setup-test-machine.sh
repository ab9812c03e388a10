#!/usr/bin/env bash
# Installs what the tests need on a Debian/Ubuntu machine, or stops at once saying what is
# missing and how to get it. Each piece is checked first, so a second run takes seconds.
#
#   checked, not installed:  a Rust toolchain (>= the workspace's rust-version) with rustup,
#                            Node.js >= 20 with npm, python3
#   apt-get:                 mesa-vulkan-drivers + libvulkan1 (Mesa lavapipe: the wgpu tests),
#                            strace (the save protocol's fault-injection tests: crash_safety.rs),
#                            chromium (browser tests; its SwiftShader Vulkan driver also runs
#                            Node's WebGPU tests), python3-venv when `python3 -m venv` fails
#   rustup / cargo:          the wasm32-unknown-unknown and wasm32-wasip1 targets, rustfmt, clippy; wasm-bindgen-cli at the
#                            version Cargo.lock pins
#   pip (in a venv):         numpy, at $PYENV_DIR (default target/test-python)
#
# Environment: BROWSER=0 or INSTALL_CHROMIUM=0 leave Chromium alone; PYENV_DIR as above.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

die() {
  echo "error: $*" >&2
  exit 1
}

# `version_at_least 1.95.0 1.89` is true when the first version is >= the second.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

# --- toolchains this script does not install --------------------------------------------------
want_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
command -v cargo >/dev/null || die "no cargo: install Rust $want_rust+ with rustup (https://rustup.rs), then rerun"
have_rust=$(rustc --version | awk '{print $2}')
version_at_least "$have_rust" "$want_rust" || die "rustc $have_rust is older than the workspace's $want_rust: run 'rustup update stable'"
command -v node >/dev/null && command -v npm >/dev/null || die "no Node.js/npm: install Node.js 20+ (https://nodejs.org), then rerun"
have_node=$(node --version | tr -d v)
version_at_least "$have_node" 20 || die "Node.js $have_node is older than 20: install Node.js 20+"
command -v python3 >/dev/null || die "no python3: apt-get install python3 python3-venv"

# --- system packages ---------------------------------------------------------------------------
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $*: no apt-get here; install these Debian packages (or your system's equivalents) by hand: $*"
  if [ $apt_updated = 0 ]; then
    $sudo apt-get update -qq || die "apt-get update failed (see above): $* cannot be installed"
    apt_updated=1
  fi
  echo "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    die "apt-get install $* failed (see above)"
}
missing=()
for p in mesa-vulkan-drivers libvulkan1 strace; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${BROWSER:-1}" = 1 ] && [ "${INSTALL_CHROMIUM:-1}" = 1 ] && ! [ -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
[ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 ||
  die "mesa-vulkan-drivers is installed but has no lavapipe driver (lvp_icd.*.json): the wgpu tests need it"

# --- Rust: the wasm32 target and wasm-bindgen-cli ----------------------------------------------
# wasm32-unknown-unknown builds the npm package; wasm32-wasip1 runs the CPU kernels' unit tests
# in Node's WASI (tools/wasi-run.mjs), SIMD128 paths included.
for wasm_target in wasm32-unknown-unknown wasm32-wasip1; do
  if ! [ -d "$(rustc --print sysroot)/lib/rustlib/$wasm_target" ]; then
    command -v rustup >/dev/null || die "the $wasm_target target is missing and there is no rustup to add it"
    echo "rustup target add $wasm_target"
    rustup target add "$wasm_target" || die "rustup target add $wasm_target failed (see above)"
  fi
done
if ! cargo fmt --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || die "rustfmt is missing and there is no rustup to add it"
  echo "rustup component add rustfmt"
  rustup component add rustfmt || die "rustup component add rustfmt failed (see above)"
fi
if ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || die "clippy is missing and there is no rustup to add it"
  echo "rustup component add clippy"
  rustup component add clippy || die "rustup component add clippy failed (see above)"
fi
want_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bindgen" != "$want_bindgen" ]; then
  echo "cargo install wasm-bindgen-cli $want_bindgen (found: ${have_bindgen:-none})"
  # Not --locked: its published lock file pins a yanked webpki-roots (1.0.11), which fails.
  cargo install --quiet wasm-bindgen-cli --version "$want_bindgen" ||
    die "cargo install wasm-bindgen-cli $want_bindgen failed (see above)"
  command -v wasm-bindgen >/dev/null || die "wasm-bindgen was installed but is not on PATH: add ~/.cargo/bin to PATH"
fi

# --- numpy, for the index's numpy-interoperability test, in a venv (PEP 668 systems) -----------
pyenv_dir="${PYENV_DIR:-target/test-python}"
if ! "$pyenv_dir/bin/python" -c "import numpy" 2>/dev/null; then
  echo "python3 -m venv $pyenv_dir && pip install numpy"
  python3 -m venv "$pyenv_dir" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$pyenv_dir"; } ||
    die "python3 -m venv $pyenv_dir failed"
  "$pyenv_dir/bin/pip" install -q numpy || die "pip install numpy failed (see above)"
fi
# The fault-injection tests kill the CLI at chosen syscalls (strace -e inject=...:signal=KILL).
strace -V >/dev/null 2>&1 || die "strace is installed but does not run: the fault-injection tests need it"
echo "setup: rustc $have_rust, node $have_node, wasm-bindgen $want_bindgen, lavapipe, $(strace -V | head -1), numpy in $pyenv_dir$(
  [ -x /usr/bin/chromium ] && echo ", $(/usr/bin/chromium --version 2>/dev/null | head -1)")"
