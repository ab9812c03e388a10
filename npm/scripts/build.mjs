// `npm run build`: wasm32 build (release profile by default) -> wasm-bindgen (--target web: plain ESM that runs in
// browsers and, given the bytes, in Node) -> wasm-opt -> dist/ with the JS and declarations.
//
// Environment: CARGO_TARGET_DIR (default ../target-wasm next to the workspace),
// WASM_PROFILE (cargo profile, default `release`; the test script uses `dev`, which shares its
// host build with the native tests and skips LTO), SKIP_CARGO=1 (reuse the last wasm build),
// WASM_OPT=0 (skip wasm-opt).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const workspace = resolve(pkg, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(workspace, '..', 'target-wasm');
const dist = join(pkg, 'dist');
const run = (cmd, args, opts = {}) => {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', cwd: workspace, ...opts });
};

const profile = process.env.WASM_PROFILE || 'release';
if (process.env.SKIP_CARGO !== '1') {
  run('cargo', ['build', '--profile', profile, '--target', 'wasm32-unknown-unknown', '-p', 'qwen3-vl-embed-wasm'], {
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  });
}
// cargo names the dev profile's output directory `debug`.
const built = join(targetDir, 'wasm32-unknown-unknown', profile === 'dev' ? 'debug' : profile, 'qwen3_vl_embed_wasm.wasm');
if (!existsSync(built)) throw new Error(`no wasm at ${built}: run without SKIP_CARGO`);

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'wasm'), { recursive: true });
run('wasm-bindgen', ['--target', 'web', '--out-dir', join(dist, 'wasm'), '--out-name', 'qwen3_vl_embed_wasm', built]);

const wasm = join(dist, 'wasm', 'qwen3_vl_embed_wasm_bg.wasm');
const wasmOpt = join(pkg, 'node_modules', '.bin', 'wasm-opt');
if (process.env.WASM_OPT !== '0' && existsSync(wasmOpt)) {
  // -O2 rather than -Oz: the CPU path's speed matters more than the last megabyte.
  run(wasmOpt, ['-O2', '--strip-debug', '--strip-producers', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
    '--enable-sign-ext', '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue', '--enable-simd', wasm, '-o', wasm]);
}

for (const f of ['core.js', 'browser.js', 'node.js', 'node-files.js', 'load.js', 'errors.js', 'retriever.js', 'index.d.ts']) {
  cpSync(join(pkg, 'src', f), join(dist, f));
}
const raw = statSync(wasm).size;
const gz = gzipSync(readFileSync(wasm), { level: 9 }).length;
console.log(`wasm: ${(raw / 1e6).toFixed(2)} MB raw, ${(gz / 1e6).toFixed(2)} MB gzip`);
