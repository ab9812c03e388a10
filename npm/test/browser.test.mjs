// Headless Chromium (Debian's, driven by playwright-core): the package embeds the reference
// inputs on WebGPU (SwiftShader) and on the CPU path, both equal the fixtures; the demo
// page's search works. QWEN3_VL_PACKAGE_DIR points at the installed tarball's package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { CLI, assertSameAnswer, cli, cliLibrary, sampleQueries, worstScoreDiff } from './cli-library.js';
import { FIXTURES, MODEL_DIR, cases, isEmptyCase, maxAbsDiff, readSafetensor, softwareGpuCases, tolerance } from './helpers.js';

let server, browser, base;
const report = {};

// The CLI-indexed sample library (test/cli-library.js), served at /cross/ when there is a CLI.
const cross = CLI ? cliLibrary() : null;
// The tiny model converted to q4 by the CLI (`qwen3-vl-embed convert`), served at /converted/.
const converted = CLI ? join(mkdtempSync(join(tmpdir(), 'qwen3-vl-converted-')), 'q4') : null;
if (converted) cli(['convert', '--precision', 'q4', '--out', converted, MODEL_DIR]);

before(async () => {
  server = await serve(0, [...(cross ? [['/cross/', cross.dir]] : []), ...(converted ? [['/converted/', converted]] : [])]);
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    ignoreDefaultArgs: ['--headless'],
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  const out = process.env.QWEN3_VL_REPORT;
  if (out) writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(`# ${JSON.stringify(report)}`);
});

/**
 * Records, in the page, every WGSL module that the browser's compiler (Tint) rejects, so a bad
 * kernel fails the test by name instead of surfacing later as wrong numbers. On wasm, cubecl
 * cannot see these errors itself before it uses the module (see the wasm crate's Cargo.toml).
 */
function watchShaders() {
  window.__shaders = { compiled: 0, rejected: [] };
  if (typeof GPUDevice === 'undefined') return;
  const create = GPUDevice.prototype.createShaderModule;
  GPUDevice.prototype.createShaderModule = function (descriptor) {
    const module = create.call(this, descriptor);
    window.__shaders.compiled++;
    module.getCompilationInfo().then((info) => {
      const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      if (errors.length) window.__shaders.rejected.push({ label: descriptor.label, errors });
    });
    return module;
  };
}

/** Runs every reference case in a page on `device`; returns { name: [vectors] } and timings. */
async function embedCasesInPage(device, only) {
  const page = await browser.newPage();
  const panics = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' || m.text().startsWith('Failed to load resource')) return; // 404: no shard index
    if (m.text().includes('panicked')) panics.push(m.text().slice(0, 400));
    if (panics.length <= 3) console.log(`# [page] ${m.text().slice(0, 2000)}`);
  });
  await page.addInitScript(watchShaders);
  await page.goto(`${base}/demo/blank.html`);
  const list = cases(only).filter((c) => !isEmptyCase(c));
  const result = await page.evaluate(async ({ device, list }) => {
    const t0 = performance.now();
    const { Embedder } = await import('/pkg/dist/browser.js');
    const embedder = await Embedder.load({ modelUrl: '/fixtures/models/tiny-embedding/', device, cache: false });
    const loaded = performance.now();
    const fetchBytes = async (p) => new Uint8Array(await (await fetch(`/fixtures/${p}`)).arrayBuffer());
    const out = {};
    let first = null;
    const ms = {};
    for (const c of list) {
      const inputs = await Promise.all(c.inputs.map(async (i) => ({ ...i, images: await Promise.all(i.images.map(fetchBytes)) })));
      const start = performance.now();
      const vs = await embedder.embedBatch(inputs);
      first ??= performance.now();
      ms[c.name] = Math.round(performance.now() - start);
      out[c.name] = vs.map((v) => Array.from(v));
    }
    // The same input again must give the same vector (a kernel that never ran would not).
    const again = await embedder.embedBatch(await Promise.all(list[0].inputs.map(async (i) => ({ ...i, images: await Promise.all(i.images.map(fetchBytes)) }))));
    const repeatMaxDiff = Math.max(...again.flatMap((v, j) => Array.from(v, (x, k) => Math.abs(x - out[list[0].name][j][k]))));
    const bad = await embedder.embed({ text: ' ' }).then(() => null, (e) => e.code);
    // Compilation info resolves asynchronously: give the last modules a moment.
    await new Promise((ok) => setTimeout(ok, 500));
    return {
      device: embedder.device, vectors: out, ms, bad, repeatMaxDiff, shaders: window.__shaders,
      loadMs: loaded - t0, firstEmbeddingMs: first - t0, totalMs: performance.now() - t0,
    };
  }, { device, list });
  await page.close();
  return { ...result, panics };
}

function check(result, device, only) {
  assert.equal(result.device, device);
  assert.deepEqual(result.shaders.rejected, [], `${device}: the browser rejected WGSL modules`);
  assert.deepEqual(result.panics, [], `${device}: the wasm module panicked`);
  assert.equal(result.bad, 'EMPTY_INPUT');
  assert.ok(result.repeatMaxDiff <= 1e-6, `${device}: the same input gave another vector (max diff ${result.repeatMaxDiff})`);
  const errs = {};
  for (const c of cases(only).filter((c) => !isEmptyCase(c))) {
    const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
    const err = maxAbsDiff(Float32Array.from(result.vectors[c.name].flat()), want);
    errs[c.name] = Number(err.toExponential(2));
    assert.ok(err <= tolerance(c.name), `${device} ${c.name}: max abs err ${err}`);
  }
  report[device] = {
    errs, ms: result.ms, repeatMaxDiff: result.repeatMaxDiff, shadersCompiled: result.shaders.compiled,
    loadMs: Math.round(result.loadMs), firstEmbeddingMs: Math.round(result.firstEmbeddingMs), totalMs: Math.round(result.totalMs),
  };
  return errs;
}

let cpu, gpu;
test('CPU path in Chromium equals the reference', async () => {
  cpu = await embedCasesInPage('cpu');
  check(cpu, 'cpu');
});

// SwiftShader compiles every kernel for every new shape on the CPU (all 20 cases take ~6 min
// here), so by default WebGPU runs the representative subset of software_gpu_cases.txt;
// QWEN3_VL_GPU_CASES='' runs them all.
const GPU_CASES = process.env.QWEN3_VL_GPU_CASES ?? softwareGpuCases();
test('WebGPU (SwiftShader) in Chromium equals the reference', async () => {
  gpu = await embedCasesInPage('webgpu', GPU_CASES || undefined);
  check(gpu, 'webgpu', GPU_CASES || undefined);
  let worst = 0;
  for (const name of Object.keys(gpu.vectors)) {
    worst = Math.max(worst, maxAbsDiff(Float32Array.from(cpu.vectors[name].flat()), Float32Array.from(gpu.vectors[name].flat())));
  }
  report.webgpuVsCpuMaxAbsErr = Number(worst.toExponential(2));
});

test('demo page: load, add screenshots, search, see ranked results', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/`);
  await page.selectOption('#device', 'cpu');
  await page.click('#load');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('loaded'), null, { timeout: 120_000 });
  const images = ['rgb_64x48.png', 'wide_176x96.png', 'grey_100x80.png', 'palette_72x72.png'].map((f) => join(FIXTURES, 'images', f));
  await page.setInputFiles('#demo-files', images);
  await page.waitForFunction(() => document.getElementById('status').textContent === '4 demos indexed', null, { timeout: 120_000 });
  await page.fill('#task', 'wide_176x96');
  await page.click('#go');
  await page.waitForSelector('#results li', { timeout: 60_000 });
  const results = await page.$$eval('#results li', (lis) =>
    lis.map((li) => ({ name: li.querySelector('.name').textContent, score: Number(li.querySelector('.score').textContent), thumb: li.querySelector('img').naturalWidth })),
  );
  assert.equal(results.length, 3);
  assert.ok(results.every((r) => r.thumb > 0 && Number.isFinite(r.score)));
  assert.ok(results[0].score >= results[1].score && results[1].score >= results[2].score);
  const shot = await page.locator('#results').screenshot();
  const dir = process.env.QWEN3_VL_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'qwen3-vl-demo-'));
  writeFileSync(join(dir, 'demo-results.png'), shot);
  assert.equal(shot.subarray(1, 4).toString(), 'PNG');
  assert.ok(shot.length > 2000, 'the results screenshot has content');
  report.demo = { results, screenshot: join(dir, 'demo-results.png') };
});

test('cross-target: a library indexed by the CLI loads in Chromium (directory URL, packed file URL, bytes) and answers as the CLI does', { skip: !cross && 'QWEN3_VL_CLI is not set' }, async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/blank.html`);
  const answers = await page.evaluate(async (queries) => {
    const { Embedder, Retriever } = await import('/pkg/dist/browser.js');
    const embedder = await Embedder.load({ modelUrl: '/fixtures/models/tiny-embedding/', device: 'cpu', cache: false });
    const shot = async (p) => (p ? new Uint8Array(await (await fetch(`/fixtures/demo-library/${p}`)).arrayBuffer()) : undefined);
    const loaded = {
      directory: await Retriever.load('/cross/index/', { embedder }),
      packedFile: await Retriever.load('/cross/library.qvl', { embedder }),
      bytes: await Retriever.fromBytes(await (await fetch('/cross/library.qvl')).arrayBuffer(), { embedder }),
    };
    const out = {};
    for (const [how, retriever] of Object.entries(loaded)) {
      out[how] = [];
      for (const q of queries) {
        const got = await retriever.retrieve({ ...q, screenshot: await shot(q.screenshot) });
        out[how].push(got.map((r) => ({ demoId: r.demoId, score: r.score })));
      }
    }
    return out;
  }, sampleQueries());
  await page.close();
  for (const [how, got] of Object.entries(answers)) {
    got.forEach((answer, i) => assertSameAnswer(answer, cross.answers[i], `Chromium, ${how}, query ${i}`));
    report[`crossTarget_${how}_worstScoreDiff`] = worstScoreDiff(got, cross.answers);
  }
});

test('a converted q4 directory from a URL: downloaded into the Cache API once, loaded from it the next time, q4 vectors on the CPU path', { skip: !converted && 'QWEN3_VL_CLI is not set' }, async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/blank.html`);
  const fetched = [];
  page.on('request', (r) => r.url().includes('/converted/') && fetched.push(new URL(r.url()).pathname));
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const c = cases('text_image')[0];
  const loadTwice = async () => page.evaluate(async (inputs) => {
    const { Embedder } = await import('/pkg/dist/browser.js');
    await caches.delete('qwen3-vl-embed-v1');
    const fetchBytes = async (p) => new Uint8Array(await (await fetch(`/fixtures/${p}`)).arrayBuffer());
    const input = { ...inputs[0], images: await Promise.all(inputs[0].images.map(fetchBytes)) };
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const events = [];
      const e = await Embedder.load({ modelUrl: '/converted/', device: 'cpu', onProgress: (p) => p.phase === 'download' && events.push(p) });
      const weights = events.filter((p) => p.file === 'model.safetensors');
      runs.push({ vector: Array.from(await e.embed(input)), fromCache: weights.every((p) => p.fromCache), downloads: weights.length });
      e.dispose();
    }
    // A cache that refuses the files (as Chromium's does on a nearly full disk): the model
    // loads from the network all the same, and a warning says it was not cached.
    await caches.delete('qwen3-vl-embed-v1');
    const put = Cache.prototype.put;
    Cache.prototype.put = () => Promise.reject(new DOMException('Cache.put() encountered a network error', 'NetworkError'));
    const uncached = await Embedder.load({ modelUrl: '/converted/', device: 'cpu' });
    const refused = Array.from(await uncached.embed(input));
    uncached.dispose();
    Cache.prototype.put = put;
    const atLoad = await Embedder.load({ modelUrl: '/fixtures/models/tiny-embedding/', device: 'cpu', dtype: 'q4', cache: false });
    return { runs, refused, atLoad: Array.from(await atLoad.embed(input)) };
  }, c.inputs);
  const { runs, refused, atLoad } = await loadTwice();
  await page.close();
  assert.ok(!runs[0].fromCache && runs[0].downloads > 0, 'the first load downloads');
  assert.ok(runs[1].fromCache, 'the second load reads the weights from the Cache API');
  // One download for the two loads, one more with the refusing cache.
  assert.equal(fetched.filter((p) => p.endsWith('/model.safetensors')).length, 2, `network requests: ${fetched.join(', ')}`);
  assert.deepEqual(runs[1].vector, runs[0].vector);
  assert.deepEqual(refused, runs[0].vector, 'a refusing cache changes nothing but the download');
  assert.ok(warnings.some((w) => /Cache API refused .*\/converted\/model\.safetensors/.test(w)), `warnings: ${warnings.join(' | ')}`);
  assert.deepEqual(runs[0].vector, atLoad, 'the converted q4 directory gives the vector of q4 quantized at load');
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  const cosine = runs[0].vector.reduce((sum, x, i) => sum + x * want[i], 0);
  assert.ok(cosine >= 0.99 && cosine < 1 - 1e-6, `q4 cosine against the f32 reference: ${cosine}`);
  report.convertedQ4 = { cosine, requests: fetched };
});

test('q4 on WebGPU: the converted directory gives the vector of quantizing at load there, within cosine 0.99 of the f32 reference', { skip: !converted && 'QWEN3_VL_CLI is not set' }, async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/blank.html`);
  const c = cases('text_image')[0];
  const { convertedVector, atLoad } = await page.evaluate(async (inputs) => {
    const { Embedder } = await import('/pkg/dist/browser.js');
    const fetchBytes = async (p) => new Uint8Array(await (await fetch(`/fixtures/${p}`)).arrayBuffer());
    const input = { ...inputs[0], images: await Promise.all(inputs[0].images.map(fetchBytes)) };
    const embed = async (options) => {
      const e = await Embedder.load({ device: 'webgpu', cache: false, ...options });
      const vector = Array.from(await e.embed(input));
      e.dispose();
      return vector;
    };
    return {
      convertedVector: await embed({ modelUrl: '/converted/' }),
      atLoad: await embed({ modelUrl: '/fixtures/models/tiny-embedding/', dtype: 'q4' }),
    };
  }, c.inputs);
  await page.close();
  assert.deepEqual(convertedVector, atLoad, 'WebGPU: the converted q4 directory gives the vector of q4 quantized at load');
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  const cosine = atLoad.reduce((sum, x, i) => sum + x * want[i], 0);
  assert.ok(cosine >= 0.99 && cosine < 1 - 1e-6, `WebGPU q4 cosine against the f32 reference: ${cosine}`);
  report.webgpuQ4 = { cosine };
});

test('in a Worker, model weights stream into the Cache API and load from the cached file one tensor at a time (FileReaderSync); a refusing cache falls back to memory', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/demo/blank.html`);
  const c = cases('text')[0];
  const result = await page.evaluate(async (input) => {
    // Counts FileReaderSync reads in the worker: the loader's reads of the cached weights.
    const source = `
      let reads = 0;
      const original = FileReaderSync.prototype.readAsArrayBuffer;
      FileReaderSync.prototype.readAsArrayBuffer = function (blob) { reads++; return original.call(this, blob); };
      onmessage = async ({ data }) => {
        try {
          const { Embedder } = await import(data.pkg);
          await caches.delete('qwen3-vl-embed-v1');
          const runs = [];
          for (let i = 0; i < 2; i++) {
            const fromCache = [];
            reads = 0;
            const e = await Embedder.load({ modelUrl: data.model, device: 'cpu',
              onProgress: (p) => p.phase === 'download' && p.file === 'model.safetensors' && fromCache.push(p.fromCache) });
            runs.push({ vector: Array.from(await e.embed(data.input)), reads, fromCache });
            e.dispose();
          }
          // A cache that refuses the file (quota, a private window): loaded from memory instead.
          await caches.delete('qwen3-vl-embed-v1');
          Cache.prototype.put = () => Promise.reject(new DOMException('quota exceeded', 'QuotaExceededError'));
          reads = 0;
          const e = await Embedder.load({ modelUrl: data.model, device: 'cpu' });
          const refused = { vector: Array.from(await e.embed(data.input)), reads };
          e.dispose();
          postMessage({ runs, refused });
        } catch (err) {
          postMessage({ error: String(err?.stack ?? err) });
        }
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })), { type: 'module' });
    const answer = new Promise((ok) => (worker.onmessage = ({ data }) => ok(data)));
    worker.postMessage({ pkg: `${location.origin}/pkg/dist/browser.js`, model: `${location.origin}/fixtures/models/tiny-embedding/`, input });
    const data = await answer;
    worker.terminate();
    return data;
  }, c.inputs[0]);
  await page.close();
  assert.equal(result.error, undefined, result.error);
  const [first, second] = result.runs;
  assert.ok(first.fromCache.length > 0 && first.fromCache.every((x) => !x), 'the first load downloads');
  assert.deepEqual(second.fromCache, [true], 'the second load reads the cached file');
  // One read per tensor (plus the header): the file was never read whole.
  assert.ok(first.reads > 10 && second.reads === first.reads, `FileReaderSync reads: ${first.reads}, ${second.reads}`);
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  for (const run of result.runs) assert.ok(maxAbsDiff(Float32Array.from(run.vector), want) <= tolerance(c.name));
  assert.equal(result.refused.reads, 0, 'with the cache refusing, the weights come from memory');
  assert.deepEqual(result.refused.vector, first.vector);
  report.workerCachedReader = { reads: first.reads };
});
