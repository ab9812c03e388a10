// One measured load + run of the npm package in Node (one process per precision and device, so
// memory numbers belong to that run alone). Prints one JSON line.
//   node node_run.mjs --model DIR --device cpu|webgpu --cases CASES.json [--dtype int8|q4]
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { argv } from 'node:process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const model = arg('--model');
const device = arg('--device', 'cpu');
const dtype = arg('--dtype', undefined);
const cases = JSON.parse(readFileSync(arg('--cases'), 'utf8'));
const pkg = arg('--package', new URL('../../npm/dist/node.js', import.meta.url).pathname);
const { Embedder, init, wasmMemoryBytes } = await import(pkg);

// WebGPU: the package's own setup (npm/src/node.js), with every GPU buffer counted.
const gpuBuffers = { liveBytes: 0, peakBytes: 0 };
if (device === 'webgpu') {
  // `webgpu` is the npm package's dev dependency: resolved from npm/, not from here.
  const webgpu = createRequire(new URL('../../npm/package.json', import.meta.url)).resolve('webgpu');
  const { create, globals } = await import(pathToFileURL(webgpu).href);
  Object.assign(globalThis, globals);
  globalThis.Window ??= class Window {};
  const { countGpuBuffers } = await import('./gpu_buffers.mjs');
  const gpu = countGpuBuffers(create([]), gpuBuffers);
  if (globalThis.navigator) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  else globalThis.navigator = { gpu };
}
await init();
const memory = () => ({
  wasmBytes: wasmMemoryBytes(),
  jsHeapBytes: process.memoryUsage().heapUsed,
  arrayBuffersBytes: process.memoryUsage().arrayBuffers,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  gpuBufferBytes: gpuBuffers.liveBytes,
  gpuBufferPeakBytes: gpuBuffers.peakBytes,
});
const downloadBytes = readdirSync(model).reduce((sum, f) => sum + statSync(join(model, f)).size, 0);
const t0 = performance.now();
// Progress on stderr (a load on a software GPU takes minutes): every tenth of each phase.
let shown = '';
const onProgress = ({ phase, loaded, total }) => {
  const step = `${phase} ${Math.floor((10 * loaded) / Math.max(total, 1))}`;
  if (step !== shown) console.error(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${phase} ${((100 * loaded) / Math.max(total, 1)).toFixed(0)}%`);
  shown = step;
};
const embedder = await Embedder.load({ modelUrl: model, device, dtype, onProgress });
const loadS = (performance.now() - t0) / 1000;
const afterLoad = memory();
console.error(`loaded in ${loadS.toFixed(1)} s: ${JSON.stringify(afterLoad)}`);
const out = { device: embedder.device, adapter: gpuBuffers.adapter, dtype: dtype ?? 'directory default', downloadBytes, loadS, afterLoad, cases: {} };
for (const [name, item] of Object.entries(cases)) {
  const input = { text: item.text, images: item.image ? [new Uint8Array(readFileSync(item.image))] : [] };
  const times = [];
  let vector;
  for (let rep = 0; rep < 2; rep++) {
    const start = performance.now();
    vector = await embedder.embed(input);
    times.push((performance.now() - start) / 1000);
  }
  console.error(`${name}: ${times.map((t) => t.toFixed(2)).join(' / ')} s`);
  out.cases[name] = { firstS: times[0], secondS: times[1], vector: Array.from(vector) };
}
out.atEnd = memory();
console.log(JSON.stringify(out));
