// Drives one benchmark run: the native worker (benches/model/worker.rs, release) gives the f32
// reference vectors and the native times in each precision; node_run.mjs runs the npm package
// in Node per precision. Prints a Markdown table and writes results.json.
//   node compare.mjs --bf16 DIR --int8 DIR --q4 DIR --worker BIN --cases CASES.json --out DIR
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { argv } from 'node:process';

const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const dirs = { bf16: arg('--bf16'), int8: arg('--int8'), q4: arg('--q4') };
const worker = arg('--worker');
const casesFile = arg('--cases');
// Precisions also run in headless Chromium (comma-separated; '' for none).
const inChromium = arg('--chromium', 'q4').split(',').filter(Boolean);
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

/** `chromium_run.mjs` on `dir`: the package in headless Chromium, CPU path, in a Worker. */
function chromium(dir) {
  const stdout = execFileSync(process.execPath, [join(here, 'chromium_run.mjs'), '--model', resolve(dir), '--cases', casesFile],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

function node(dir, device) {
  const stdout = execFileSync(process.execPath, [join(here, 'node_run.mjs'), '--model', dir, '--device', device, '--cases', casesFile],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
const gb = (bytes) => (bytes / 1e9).toFixed(2);

console.error('native f32 reference ...');
const reference = await native(dirs.bf16, 'f32');
const rows = [];
for (const precision of ['int8', 'q4']) {
  console.error(`native ${precision} ...`);
  const cli = await native(dirs[precision], precision);
  console.error(`node cpu ${precision} ...`);
  const js = node(dirs[precision], 'cpu');
  let page = null;
  if (inChromium.includes(precision)) {
    console.error(`chromium cpu ${precision} ...`);
    page = chromium(dirs[precision]);
  }
  rows.push({ precision, native: cli, node: js, chromium: page });
}
const results = { cases: Object.keys(cases), reference, rows };
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 1));

console.log('| precision | case | Node CPU first / second | native first / second | Node / native (second) | cosine Node to native f32 | cosine native to native f32 |');
console.log('|---|---|---|---|---|---|---|');
for (const { precision, native: n, node: js } of rows) {
  for (const name of Object.keys(cases)) {
    const a = js.cases[name], b = n.cases[name], ref = reference.cases[name].vector;
    console.log(`| ${precision} | ${name} | ${a.firstS.toFixed(2)} / ${a.secondS.toFixed(2)} s | ${b.firstS.toFixed(2)} / ${b.secondS.toFixed(2)} s | ${(a.secondS / b.secondS).toFixed(2)}x | ${cosine(a.vector, ref).toFixed(4)} | ${cosine(b.vector, ref).toFixed(4)} |`);
  }
}
for (const { precision, native: n, chromium: page } of rows.filter((r) => r.chromium)) {
  for (const name of Object.keys(cases)) {
    const a = page.cases[name], b = n.cases[name], ref = reference.cases[name].vector;
    console.log(`| ${precision} (Chromium, Worker) | ${name} | ${a.firstS.toFixed(2)} / ${a.secondS.toFixed(2)} s | ${b.firstS.toFixed(2)} / ${b.secondS.toFixed(2)} s | ${(a.secondS / b.secondS).toFixed(2)}x | ${cosine(a.vector, ref).toFixed(4)} | ${cosine(b.vector, ref).toFixed(4)} |`);
  }
}
console.log('');
for (const { precision, chromium: page } of rows.filter((r) => r.chromium)) {
  console.log(`- ${precision} in Chromium: downloaded ${gb(page.downloadBytes)} GB into the Cache API; load ${page.loadS.toFixed(1)} s (download included); wasm memory ${gb(page.atEnd.wasmBytes)} GB`);
}
for (const { precision, native: n, node: js } of rows) {
  console.log(`- ${precision}: download ${gb(js.downloadBytes)} GB; Node load ${js.loadS.toFixed(1)} s (native ${n.loadS.toFixed(1)} s); ` +
    `wasm memory ${gb(js.atEnd.wasmBytes)} GB; JS heap ${gb(js.atEnd.jsHeapBytes)} GB; ArrayBuffers ${gb(js.atEnd.arrayBuffersBytes)} GB; peak RSS ${gb(js.atEnd.peakRssBytes)} GB`);
}
