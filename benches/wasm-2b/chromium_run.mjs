// One measured load + run of the npm package in headless Chromium, in a module Worker: the
// converted model directory is served over HTTP, streamed into the Cache API and read from
// there one tensor at a time (the package's Worker path). On WebGPU every GPU buffer is
// counted (gpu_buffers.mjs). Prints one JSON line.
//   node chromium_run.mjs --model DIR --cases CASES.json [--device cpu|webgpu]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { argv } from 'node:process';
import { createRequire } from 'node:module';

const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const root = new URL('../../', import.meta.url).pathname;
const { chromium } = createRequire(`${root}npm/package.json`)('playwright-core');
const { serve } = await import(`${root}web/serve.mjs`);
const model = arg('--model');
const device = arg('--device', 'cpu');
const cases = JSON.parse(readFileSync(arg('--cases'), 'utf8'));
const images = [...new Set(Object.values(cases).filter((c) => c.image).map((c) => dirname(c.image)))];
const server = await serve(0, [['/model/', model], ['/bench/', new URL('.', import.meta.url).pathname], ...images.map((d, i) => [`/case${i}/`, d])]);
const base = `http://127.0.0.1:${server.address().port}`;
const items = Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, {
  text: c.text, image: c.image ? `${base}/case${images.indexOf(dirname(c.image))}/${basename(c.image)}` : null,
}]));
// A profile on disk: an in-memory (incognito) context's Cache API quota refuses a 1.4 GB file.
const profile = mkdtempSync(join(tmpdir(), 'qwen3-vl-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  ignoreDefaultArgs: ['--headless'],
  args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/blank.html`);
  const result = await page.evaluate(async ({ items, device }) => {
    const source = `
      onmessage = async ({ data }) => {
        try {
          const { Embedder, wasmMemoryBytes } = await import(data.pkg);
          const gpuBuffers = { liveBytes: 0, peakBytes: 0 };
          if (data.device === 'webgpu') (await import(data.counter)).countGpuBuffers(navigator.gpu, gpuBuffers);
          await caches.delete('qwen3-vl-embed-v1');
          let downloadBytes = 0;
          const t0 = performance.now();
          const embedder = await Embedder.load({ modelUrl: data.model, device: data.device,
            onProgress: (p) => { if (p.phase === 'download' && p.loaded === p.total) downloadBytes += p.total; } });
          const out = { device: embedder.device, loadS: (performance.now() - t0) / 1000, downloadBytes, cases: {} };
          for (const [name, item] of Object.entries(data.items)) {
            const images = item.image ? [new Uint8Array(await (await fetch(item.image)).arrayBuffer())] : [];
            const times = [];
            let vector;
            for (let rep = 0; rep < 2; rep++) {
              const start = performance.now();
              vector = await embedder.embed({ text: item.text, images });
              times.push((performance.now() - start) / 1000);
            }
            out.cases[name] = { firstS: times[0], secondS: times[1], vector: Array.from(vector) };
          }
          out.adapter = gpuBuffers.adapter;
          out.atEnd = { wasmBytes: wasmMemoryBytes(), gpuBufferBytes: gpuBuffers.liveBytes, gpuBufferPeakBytes: gpuBuffers.peakBytes };
          postMessage(out);
        } catch (err) {
          postMessage({ error: String(err?.stack ?? err) });
        }
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })), { type: 'module' });
    const answer = new Promise((ok) => (worker.onmessage = ({ data }) => ok(data)));
    worker.postMessage({ pkg: `${location.origin}/pkg/dist/browser.js`, counter: `${location.origin}/bench/gpu_buffers.mjs`,
      model: `${location.origin}/model/`, items, device });
    return answer;
  }, { items, device });
  if (result.error) throw new Error(result.error);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
