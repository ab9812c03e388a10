// Runs a wasm32-wasip1 program (a `cargo test` binary) in Node's WASI, passing its arguments
// and exit status through: the cargo runner for `--target wasm32-wasip1`, so CPU kernels built
// for wasm (SIMD128 included) are tested by the same #[test]s as the native ones.
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node tools/wasi-run.mjs" cargo test --target wasm32-wasip1 ...
import { readFileSync } from 'node:fs';
import { argv, env, exit } from 'node:process';
import { WASI } from 'node:wasi';

const [file, ...args] = argv.slice(2);
if (!file) {
  console.error('usage: node tools/wasi-run.mjs PROGRAM.wasm [ARGS...]');
  exit(2);
}
// Node marks WASI experimental; the warning is noise in test logs.
process.removeAllListeners('warning');
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
