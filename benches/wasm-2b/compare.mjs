// Drives one benchmark run: the native worker (benches/model/worker.rs, release) gives the f32
// reference vectors and the native CPU times in each precision; node_run.mjs and
// chromium_run.mjs run the npm package per precision and device. Prints a Markdown table and
// writes results.json.
//   node compare.mjs --bf16 DIR --int8 DIR --q4 DIR --worker BIN --cases CASES.json --out DIR
//     [--runs node:cpu:int8,node:cpu:q4,chromium:cpu:q4]   (add node:webgpu:q4, chromium:webgpu:q4)
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { argv, env } from 'node:process';

const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const dirs = { bf16: arg('--bf16'), int8: arg('--int8'), q4: arg('--q4') };
const worker = arg('--worker');
const casesFile = arg('--cases');
// Which runs: `runtime:device:precision`, comma-separated. WebGPU is opt-in: on a software
// adapter (SwiftShader) the 2B's first text embedding did not finish in 10 minutes (README).
const runs = arg('--runs', 'node:cpu:int8,node:cpu:q4,chromium:cpu:q4')
  .split(',').filter(Boolean).map((r) => { const [runtime, device, precision] = r.split(':'); return { runtime, device, precision }; });
const out = arg('--out', '/tmp/qwen3-vl-wasm-bench');
const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
const here = new URL('.', import.meta.url).pathname;

/** The native worker on `dir` in `dtype`: { loadS, cases: { name: { firstS, secondS, vector } } }. */
async function native(dir, dtype) {
  const proc = spawn(worker, ['--model', dir, '--device', 'cpu', '--dtype', dtype], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value);
  const ready = await next();
  const result = { loadS: ready.load_s, cases: {} };
  for (const [name, item] of Object.entries(cases)) {
    const times = [];
    let first;
    for (let rep = 0; rep < 2; rep++) {
      proc.stdin.write(JSON.stringify({ case: name, items: [item] }) + '\n');
      const r = await next();
      times.push(r.seconds);
      first = r.first;
    }
    result.cases[name] = { firstS: times[0], secondS: times[1], vector: first };
  }
  // Wait for the exit: a worker still tearing down would share the CPU with the next run.
  const exited = new Promise((ok) => proc.on('exit', ok));
  proc.stdin.end();
  await exited;
  return result;
}

/** node_run.mjs or chromium_run.mjs on `dir`, `device`: their JSON line. */
function packageRun(runtime, dir, device) {
  const script = join(here, runtime === 'node' ? 'node_run.mjs' : 'chromium_run.mjs');
  const stdout = execFileSync(process.execPath, [script, '--model', resolve(dir), '--device', device, '--cases', casesFile],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, env });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
const gb = (bytes) => (bytes / 1e9).toFixed(2);
const label = ({ runtime, device }) => `${runtime === 'node' ? 'Node' : 'Chromium (Worker)'} ${device === 'cpu' ? 'CPU' : 'WebGPU'}`;

console.error('native f32 reference ...');
const reference = await native(dirs.bf16, 'f32');
const natives = {};
for (const precision of new Set(runs.map((r) => r.precision))) {
  console.error(`native ${precision} ...`);
  natives[precision] = await native(dirs[precision], precision);
}
for (const run of runs) {
  console.error(`${label(run)} ${run.precision} ...`);
  run.result = packageRun(run.runtime, dirs[run.precision], run.device);
}
writeFileSync(join(out, 'results.json'), JSON.stringify({ cases: Object.keys(cases), reference, natives, runs }, null, 1));

console.log('| precision | where | case | first / second | native CPU first / second | ratio (second) | cosine to native f32 | cosine native to native f32 |');
console.log('|---|---|---|---|---|---|---|---|');
for (const run of runs) {
  for (const name of Object.keys(cases)) {
    const a = run.result.cases[name], b = natives[run.precision].cases[name], ref = reference.cases[name].vector;
    console.log(`| ${run.precision} | ${label(run)} | ${name} | ${a.firstS.toFixed(2)} / ${a.secondS.toFixed(2)} s | ${b.firstS.toFixed(2)} / ${b.secondS.toFixed(2)} s | ${(a.secondS / b.secondS).toFixed(2)}x | ${cosine(a.vector, ref).toFixed(4)} | ${cosine(b.vector, ref).toFixed(4)} |`);
  }
}
console.log('');
for (const run of runs) {
  const r = run.result, end = r.atEnd;
  const parts = [`download ${gb(r.downloadBytes)} GB`, `load ${r.loadS.toFixed(1)} s (native ${natives[run.precision].loadS.toFixed(1)} s)`, `wasm memory ${gb(end.wasmBytes)} GB`];
  if (run.device === 'webgpu') parts.push(`adapter "${r.adapter}"`, `GPU buffers ${gb(end.gpuBufferBytes)} GB at the end, ${gb(end.gpuBufferPeakBytes)} GB peak`);
  if (end.jsHeapBytes !== undefined) parts.push(`JS heap ${gb(end.jsHeapBytes)} GB`, `ArrayBuffers ${gb(end.arrayBuffersBytes)} GB`, `peak RSS ${gb(end.peakRssBytes)} GB`);
  if (run.runtime === 'chromium') parts[0] += ' (into the Cache API; the load includes it)';
  console.log(`- ${run.precision}, ${label(run)}: ${parts.join('; ')}`);
}
