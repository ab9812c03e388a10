// One measured load + run of the npm package in Node (one process per precision and device, so
// memory numbers belong to that run alone). Prints one JSON line.
//   node node_run.mjs --model DIR --device cpu|webgpu --cases CASES.json [--dtype int8|q4]
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { argv } from 'node:process';

const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const model = arg('--model');
const device = arg('--device', 'cpu');
const dtype = arg('--dtype', undefined);
const cases = JSON.parse(readFileSync(arg('--cases'), 'utf8'));
const pkg = arg('--package', new URL('../../npm/dist/node.js', import.meta.url).pathname);
const { Embedder, init, wasmMemoryBytes } = await import(pkg);

await init();
const memory = () => ({
  wasmBytes: wasmMemoryBytes(),
  jsHeapBytes: process.memoryUsage().heapUsed,
  arrayBuffersBytes: process.memoryUsage().arrayBuffers,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
});
const downloadBytes = readdirSync(model).reduce((sum, f) => sum + statSync(join(model, f)).size, 0);
const t0 = performance.now();
const embedder = await Embedder.load({ modelUrl: model, device, dtype });
const loadS = (performance.now() - t0) / 1000;
const afterLoad = memory();
const out = { device: embedder.device, dtype: dtype ?? 'directory default', downloadBytes, loadS, afterLoad, cases: {} };
for (const [name, item] of Object.entries(cases)) {
  const input = { text: item.text, images: item.image ? [new Uint8Array(readFileSync(item.image))] : [] };
  const times = [];
  let vector;
  for (let rep = 0; rep < 2; rep++) {
    const start = performance.now();
    vector = await embedder.embed(input);
    times.push((performance.now() - start) / 1000);
  }
  out.cases[name] = { firstS: times[0], secondS: times[1], vector: Array.from(vector) };
}
out.atEnd = memory();
console.log(JSON.stringify(out));
