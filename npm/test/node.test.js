// Run against the packed tarball installed in a temp directory (scripts/test-all.sh), so the
// import below resolves exactly what users get from npm.
import { test } from 'node:test';
import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_INSTRUCTION, Embedder, Index, Reranker, Retriever, init } from 'qwen3-vl-embed';
import { FIXTURES, MODEL_DIR, caseInputs, cases, isEmptyCase, maxAbsDiff, readSafetensor, softwareGpuCases, tolerance } from './helpers.js';
import { CLI, LIBRARY, assertSameAnswer, cli, cliAnswer, cliLibrary, sampleEpisodes, sampleQueries, worstScoreDiff } from './cli-library.js';

const DEVICE = process.env.QWEN3_VL_DEVICE ?? 'cpu';
// Scores equal the CLI's (1e-6) where the query is embedded on the same kind of device: the CPU.
const crossTargetSkip = !CLI ? 'QWEN3_VL_CLI is not set' : DEVICE !== 'cpu' ? 'compared on the CPU run' : false;
const results = [];
let embedder;
let loadMs;

test(`load the tiny checkpoint (${DEVICE})`, async () => {
  const t0 = performance.now();
  embedder = await Embedder.load({ modelUrl: MODEL_DIR, device: DEVICE });
  loadMs = performance.now() - t0;
  assert.equal(embedder.device, DEVICE === 'auto' ? embedder.device : DEVICE);
  assert.equal(embedder.dimensions, 64);
});

test('embeddings equal the reference fixtures', async (t) => {
  // A software GPU runs the representative subset unless QWEN3_VL_CASES names others.
  for (const c of cases(process.env.QWEN3_VL_CASES ?? (DEVICE === 'webgpu' ? softwareGpuCases() : undefined))) {
    await t.test(c.name, async () => {
      const inputs = caseInputs(c);
      if (isEmptyCase(c)) {
        await assert.rejects(embedder.embedBatch(inputs), { code: 'EMPTY_INPUT' });
        return;
      }
      const ref = join(FIXTURES, 'reference', `${c.name}.safetensors`);
      for (const [dim, key] of [[undefined, 'embedding'], [32, 'embedding_dim32']]) {
        const t0 = performance.now();
        const got = inputs.length === 1 ? [await embedder.embed({ ...inputs[0], dim })] : await embedder.embedBatch(inputs, { dim });
        const ms = performance.now() - t0;
        const want = readSafetensor(ref, key).values;
        const flat = Float32Array.from(got.flatMap((v) => [...v]));
        const err = maxAbsDiff(flat, want);
        results.push({ case: c.name, key, err, ms: Math.round(ms) });
        assert.ok(err <= tolerance(c.name), `${c.name} ${key}: max abs err ${err}`);
      }
    });
  }
});

test('weights as small pieces and as a Blob load the same model; load progress ends at the total', async () => {
  const config = readFileSync(join(MODEL_DIR, 'config.json'), 'utf8');
  const tokenizer = new Uint8Array(readFileSync(join(MODEL_DIR, 'tokenizer.json')));
  const weights = new Uint8Array(readFileSync(join(MODEL_DIR, 'model.safetensors')));
  // 1000-byte pieces: the header and almost every tensor straddle piece boundaries.
  const pieces = [];
  for (let at = 0; at < weights.length; at += 1000) pieces.push(weights.slice(at, at + 1000));
  const c = cases('text')[0];
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  for (const data of [pieces, new Blob([weights])]) {
    const events = [];
    const e = await Embedder.load({
      files: { config, tokenizer, weights: [{ name: 'model.safetensors', data }] },
      device: DEVICE,
      onProgress: (p) => p.phase === 'load' && events.push(p),
    });
    const err = maxAbsDiff(await e.embed(caseInputs(c)[0]), want);
    assert.ok(err <= tolerance(c.name), `max abs err ${err}`);
    assert.ok(events.length > 10, `${events.length} load events`);
    const last = events.at(-1);
    assert.equal(last.loaded, last.total);
    assert.ok(events.every((p, i) => i === 0 || p.loaded >= events[i - 1].loaded));
    e.dispose();
  }
});

/** Loads the tiny model in `dtype`; null when the device refuses it, which must be UNSUPPORTED_DTYPE. */
async function loadUnlessUnsupported(dtype) {
  try {
    return await Embedder.load({ modelUrl: MODEL_DIR, device: DEVICE, dtype });
  } catch (err) {
    assert.equal(err.code, 'UNSUPPORTED_DTYPE', String(err));
    return null;
  }
}

test('dtype f16: runs where the device computes in f16, else UNSUPPORTED_DTYPE at load (not a kernel panic)', async () => {
  const c = cases('text')[0];
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  const e = await loadUnlessUnsupported('f16');
  if (!e) return;
  const got = await e.embed(caseInputs(c)[0]);
  const cosine = got.reduce((s, x, i) => s + x * want[i], 0);
  assert.ok(cosine >= 0.9999, `f16 cosine against the f32 reference: ${cosine}`);
  e.dispose();
});

/** The cosine of `embedder`'s vector to the f32 reference for a text, an image and a two-image case. */
async function referenceCosines(embedder) {
  const out = [];
  for (const c of cases('text,text_image,two_images')) {
    const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
    const got = await embedder.embed(caseInputs(c)[0]);
    out.push({ c, cosine: got.reduce((s, x, i) => s + x * want[i], 0) });
  }
  return out;
}

test('dtype int8: a quarter of the weight bytes, every embedding within cosine 0.999 of the f32 reference', async () => {
  const e = await Embedder.load({ modelUrl: MODEL_DIR, device: DEVICE, dtype: 'int8' });
  for (const { c, cosine } of await referenceCosines(e)) {
    assert.ok(cosine >= 0.999, `${c.name}: int8 cosine against the f32 reference: ${cosine}`);
    assert.ok(cosine < 1 - 1e-7, `${c.name}: int8 weights cannot reproduce f32 exactly (${cosine}): were they quantized?`);
  }
  e.dispose();
});

test('dtype q4: every embedding within cosine 0.99 of the f32 reference (CPU: SIMD128 kernels; WebGPU: packed 4-bit words expanded per product)', async () => {
  const e = await Embedder.load({ modelUrl: MODEL_DIR, device: DEVICE, dtype: 'q4' });
  for (const { c, cosine } of await referenceCosines(e)) {
    assert.ok(cosine >= 0.99, `${c.name}: q4 cosine against the f32 reference: ${cosine}`);
    assert.ok(cosine < 1 - 1e-6, `${c.name}: 4-bit weights cannot reproduce f32 (${cosine}): were they quantized?`);
  }
  e.dispose();
});

test('converted directories (qwen3-vl-embed convert): int8 and q4 load in their own precision and equal quantizing at load', { skip: !CLI && 'QWEN3_VL_CLI is not set' }, async () => {
  const c = cases('text_image')[0];
  const input = caseInputs(c)[0];
  for (const precision of ['int8', 'q4']) {
    const out = join(mkdtempSync(join(tmpdir(), 'qwen3-vl-converted-')), precision);
    cli(['convert', '--precision', precision, '--out', out, MODEL_DIR]);
    // No dtype: the directory's qwen3-vl-embed-format.json names it.
    const converted = await Embedder.load({ modelUrl: out, device: DEVICE });
    const atLoad = await Embedder.load({ modelUrl: MODEL_DIR, device: DEVICE, dtype: precision });
    const [a, b] = [await converted.embed(input), await atLoad.embed(input)];
    assert.deepEqual(Array.from(a), Array.from(b), `${precision}: a converted directory gives the vector of quantizing at load`);
    await assert.rejects(Embedder.load({ modelUrl: out, device: DEVICE, dtype: 'f32' }), { code: 'UNSUPPORTED_DTYPE' });
    converted.dispose();
    atLoad.dispose();
    rmSync(dirname(out), { recursive: true, force: true });
  }
});

test('dtype bf16: the f32 reference exactly where the device stores bf16 (the CPU), else UNSUPPORTED_DTYPE', async () => {
  const c = cases('text_image')[0];
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  const e = await loadUnlessUnsupported('bf16');
  if (!e) {
    assert.notEqual(DEVICE, 'cpu', 'the CPU path stores bf16');
    return;
  }
  const got = await e.embed(caseInputs(c)[0]);
  assert.ok(maxAbsDiff(got, want) <= 1e-5, `bf16 weights: max |err| ${maxAbsDiff(got, want)}`);
  e.dispose();
});

test('image forms: Uint8Array, ArrayBuffer and ImageData-like RGBA give the same vector', async () => {
  const png = new Uint8Array(readFileSync(join(FIXTURES, 'images', 'rgb_64x48.png')));
  const a = await embedder.embed({ image: png });
  const b = await embedder.embed({ image: png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength) });
  assert.equal(maxAbsDiff(a, b), 0);
  // A flat grey 32x32 RGBA image through the ImageData path.
  const rgba = new Uint8ClampedArray(32 * 32 * 4).fill(128);
  const c = await embedder.embed({ image: { data: rgba, width: 32, height: 32 } });
  assert.equal(c.length, 64);
});

test('bad input is an Error with a stable code', async () => {
  await assert.rejects(embedder.embed({ text: '   ' }), { code: 'EMPTY_INPUT' });
  await assert.rejects(embedder.embed({ text: 'hi', dim: 0 }), { code: 'BAD_DIMENSION' });
  await assert.rejects(embedder.embed({ text: 'hi', dim: 65 }), { code: 'BAD_DIMENSION' });
  await assert.rejects(embedder.embed({ image: new Uint8Array([1, 2, 3, 4]) }), { code: 'BAD_IMAGE' });
  await assert.rejects(embedder.embed({ image: 42 }), { code: 'BAD_ARGUMENT' });
  await assert.rejects(embedder.embed({ text: 7 }), { code: 'BAD_ARGUMENT' });
  const bomb = new Uint8Array(readFileSync(join(FIXTURES, 'images', 'bomb_60000x60000.png')));
  await assert.rejects(embedder.embed({ image: bomb }), { code: 'IMAGE_TOO_LARGE' });
  await assert.rejects(embedder.embed({ image: { data: new Uint8Array(10), width: 4, height: 4 } }), { code: 'BAD_IMAGE_SIZE' });
  await assert.rejects(embedder.embedBatch('nope'), { code: 'BAD_ARGUMENT' });
  await assert.rejects(Embedder.load({ modelUrl: '/nonexistent/model', device: 'cpu' }), { code: 'MODEL_SOURCE' });
  await assert.rejects(Embedder.load({ modelUrl: MODEL_DIR, device: 'tpu' }), { code: 'UNKNOWN_DEVICE' });
  const config = readFileSync(join(MODEL_DIR, 'config.json'), 'utf8');
  await assert.rejects(
    Embedder.load({ files: { config, tokenizer: new Uint8Array([123]), weights: [new Uint8Array(16)] }, device: 'cpu' }),
    (e) => ['BAD_MODEL', 'BAD_TOKENIZER'].includes(e.code),
  );
});

test('index: add, search, remove, toBytes/fromBytes round trip, npy and JSON export', async () => {
  await init();
  const texts = ['Turn off Night Shift', 'Open Wi-Fi settings', 'Empty the trash', 'Change the wallpaper'];
  const vectors = await embedder.embedBatch(texts.map((text) => ({ text })));
  const index = await Index.create({ model: 'tiny-embedding', dim: 64 });
  texts.forEach((text, i) => index.add(`demo-${i}`, vectors[i], { title: text, n: i }));
  assert.equal(index.size, 4);
  const hits = index.search(vectors[2], 2);
  assert.equal(hits[0].id, 'demo-2');
  assert.ok(Math.abs(hits[0].score - 1) < 1e-5);
  assert.deepEqual(hits[0].metadata, { title: 'Empty the trash', n: 2 });

  // A filter against a brute-force one: the unfiltered ranking of every item, then the
  // matching ones (metadata n is even; titles compared ignoring case).
  const all = index.search(vectors[0], 4);
  const even = all.filter((h) => h.metadata.n % 2 === 0);
  assert.deepEqual(index.search(vectors[0], 4, { n: 0 }), even.filter((h) => h.metadata.n === 0));
  for (const n of [0, 2]) assert.deepEqual(index.search(vectors[0], 1, { n }), all.filter((h) => h.metadata.n === n));
  assert.deepEqual(index.search(vectors[0], 4, { title: 'EMPTY THE TRASH' }), all.filter((h) => h.metadata.n === 2));
  assert.deepEqual(index.search(vectors[0], 4, { title: 'nothing' }), []);
  assert.throws(() => index.search(vectors[0], 4, 'app=x'), { code: 'BAD_ARGUMENT' });

  index.remove('demo-1');
  assert.equal(index.has('demo-1'), false);
  const bytes = index.toBytes();
  const back = await Index.fromBytes(bytes);
  assert.equal(back.size, 3);
  assert.deepEqual(back.ids(), index.ids());
  for (const v of vectors) assert.deepEqual(back.search(v, 3), index.search(v, 3));
  assert.deepEqual(back.toJSON(), index.toJSON());

  const npy = back.toNpy();
  assert.equal(new TextDecoder().decode(npy.subarray(1, 6)), 'NUMPY');
  assert.match(new TextDecoder().decode(npy.subarray(0, 128)), /'shape': \(3, 64\)/);

  const corrupt = bytes.slice();
  corrupt[corrupt.length - 5] ^= 0xff;
  await assert.rejects(Index.fromBytes(corrupt), { code: 'CORRUPT_INDEX' });
  await assert.rejects(Index.fromBytes(bytes.subarray(0, 20)), { code: 'CORRUPT_INDEX' });
  assert.throws(() => index.add('x', new Float32Array(3)), { code: 'BAD_DIMENSION' });
  assert.throws(() => index.add('x', new Float32Array(64)), { code: 'BAD_VECTOR' });
  assert.throws(() => index.remove('nope'), { code: 'UNKNOWN_ID' });
});

test('retriever: cosine + app/domain bonuses, ties by id, episodes, progress, toBytes round trip', async () => {
  const png = (f) => new Uint8Array(readFileSync(join(FIXTURES, 'images', f)));
  // The tiny model is 64 wide: the seed's minimum dimension is also its width.
  for (const dim of [32, 65]) await assert.rejects(Retriever.create({ embedder, dim }), { code: 'BAD_DIMENSION' });
  const retriever = await Retriever.create({ embedder, model: 'tiny-embedding', dim: 64 });
  retriever
    .addDemo({ id: 'night-shift', goal: 'Turn off Night Shift', appName: 'System Settings' })
    .addDemo({ id: 'star', goal: 'Star this repo', screenshot: png('rgb_64x48.png'), domain: 'www.GitHub.com' })
    .addEpisode({ episode_id: 'wifi', instruction: 'Open Wi-Fi settings', steps: [{ observation: { app_name: 'Finder' } }] })
    .addEpisode({ episode_id: 'flights', instruction: 'Search flights', steps: [{ observation: { url: 'https://www.google.com/travel' } }] }, png('wide_176x96.png'));
  assert.equal(retriever.pending, 4);
  assert.deepEqual([retriever.demo('flights').domain, retriever.demo('flights').platform, retriever.demo('wifi').platform], ['google.com', 'web', 'macos']);
  await assert.rejects(retriever.retrieve({ task: 'x' }), { code: 'NOT_BUILT' });
  const progress = [];
  await retriever.buildIndex({ batchSize: 3, onProgress: (p) => progress.push(p) });
  assert.deepEqual(progress, [{ done: 3, total: 4 }, { done: 4, total: 4 }]);

  // Brute force: the same inputs through embedBatch, dot products, bonuses, sort by score then id.
  const demos = ['night-shift', 'star', 'wifi', 'flights'].map((id) => retriever.demo(id));
  const shots = { star: png('rgb_64x48.png'), flights: png('wide_176x96.png') };
  const vectors = await embedder.embedBatch(demos.map((d) => ({ text: d.goal, image: shots[d.id] ?? null, instruction: DEFAULT_INSTRUCTION })), { dim: 64 });
  // 'settings' is inside 'System Settings' (the seed's containment rule; equality would give no bonus).
  const query = { task: 'make the screen less yellow', app: 'settings', domain: 'github.com', topK: 3 };
  const q = await embedder.embed({ text: query.task, instruction: DEFAULT_INSTRUCTION, dim: 64 });
  const want = demos
    .map((d, i) => {
      const cos = vectors[i].reduce((s, x, j) => s + x * q[j], 0);
      return { id: d.id, score: cos + (d.id === 'night-shift' ? 0.1 : 0) + (d.id === 'star' ? 0.1 : 0) };
    })
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    .slice(0, 3);
  const got = await retriever.retrieve(query);
  assert.deepEqual(got.map((r) => r.demoId), want.map((w) => w.id));
  assert.deepEqual(got.map((r) => r.rank), [1, 2, 3]);
  got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < 1e-5, `${r.demoId}: ${r.score} vs ${want[i].score}`));

  const back = await Retriever.fromBytes(retriever.toBytes(), { embedder });
  assert.deepEqual(await back.retrieve(query), got);
  assert.equal(back.remove('wifi'), true);
  assert.equal(back.size, 3);
  await assert.rejects(back.retrieve({ task: '  ' }), { code: 'EMPTY_INPUT' });
  assert.throws(() => back.addDemo({ id: '../x', goal: 'g' }), { code: 'BAD_ID' });
  await assert.rejects(Retriever.fromBytes(new Uint8Array(8), { embedder }), { code: 'CORRUPT_INDEX' });
});

test('cross-target: a library indexed by the CLI loads from a directory, a packed file and bytes, and answers as the CLI does', { skip: crossTargetSkip }, async () => {
  const ref = cliLibrary();
  const queries = sampleQueries().map((q) => ({ ...q, screenshot: q.screenshot ? new Uint8Array(readFileSync(join(LIBRARY, q.screenshot))) : undefined }));
  const loaded = {
    directory: await Retriever.load(ref.index, { embedder }),
    packedFile: await Retriever.load(ref.packed, { embedder }),
    bytes: await Retriever.fromBytes(readFileSync(ref.packed), { embedder }),
  };
  const worst = {};
  for (const [how, retriever] of Object.entries(loaded)) {
    assert.equal(retriever.size, 5);
    const got = [];
    for (const q of queries) got.push(await retriever.retrieve(q));
    got.forEach((answer, i) => assertSameAnswer(answer, ref.answers[i], `${how}, query ${i}`));
    worst[how] = worstScoreDiff(got, ref.answers);
  }
  console.log(`# cross-target (CLI library in Node): worst score diff ${JSON.stringify(worst)}`);
  if (!ref.shared) rmSync(ref.dir, { recursive: true });
});

test('cross-target: a library built by npm loads in the CLI (written as files, and packed then unpacked) and answers as npm does', { skip: crossTargetSkip }, async () => {
  // The model field names what the CLI loads to embed queries: the tiny checkpoint's directory.
  // Index-time settings travel with the library: the CLI reports and uses them.
  // (Bonuses exact in f32, as the library stores them.)
  const settings = { bonuses: { app: 0.25, domain: 0.5 }, rerankTopN: 9, strategy: 'hnsw' };
  const retriever = await Retriever.create({ embedder, model: MODEL_DIR, dim: 64, ...settings });
  assert.equal(retriever.settings.instruction, DEFAULT_INSTRUCTION);
  for (const [episode, screenshot] of sampleEpisodes()) retriever.addEpisode(episode, screenshot);
  await retriever.buildIndex({ batchSize: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'qwen3-vl-npm-library-'));
  const asFiles = join(dir, 'files');
  for (const [name, bytes] of Object.entries(retriever.toFiles())) {
    mkdirSync(dirname(join(asFiles, name)), { recursive: true });
    writeFileSync(join(asFiles, name), bytes);
  }
  writeFileSync(join(dir, 'library.qvl'), retriever.toBytes());
  cli(['unpack', join(dir, 'library.qvl'), '--out', join(dir, 'unpacked')]);
  const info = JSON.parse(cli(['info', asFiles, '--json']));
  assert.deepEqual([info.bonuses, info.rerank_top_n, info.strategy, info.search], [settings.bonuses, 9, 'hnsw', 'hnsw']);
  // Three queries (one with an app, one with a domain) keep the CLI runs few.
  const queries = sampleQueries().filter((q) => !q.screenshot).slice(0, 3);
  for (const [i, q] of queries.entries()) {
    const want = await retriever.retrieve(q);
    assertSameAnswer(cliAnswer(asFiles, q), want, `files, query ${i}`);
    if (i === 0) assertSameAnswer(cliAnswer(join(dir, 'unpacked'), q), want, `unpacked, query ${i}`);
  }
  rmSync(dir, { recursive: true });
});

test("text retrieval: { method: 'text' }, and without an embedder automatically with one warning, answers as the CLI's --method text", { skip: crossTargetSkip }, async () => {
  const ref = cliLibrary();
  const queries = sampleQueries().filter((q) => q.task).slice(0, 4);
  const want = queries.map((q) => cliAnswer(ref.index, q, ['--method', 'text']));
  const withModel = await Retriever.load(ref.index, { embedder });
  const noModel = await Retriever.load(ref.index);
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    for (const [i, q] of queries.entries()) {
      assertSameAnswer(await withModel.retrieve({ ...q, method: 'text' }), want[i], `method text, query ${i}`);
      assertSameAnswer(await noModel.retrieve(q), want[i], `fallback, query ${i}`);
    }
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 1, `one warning: ${warnings}`);
  assert.match(warnings[0], /no embedder loaded, retrieving by text/);
  await assert.rejects(noModel.retrieve({ task: 'x', method: 'multimodal' }), { code: 'BAD_ARGUMENT' });
  await assert.rejects(noModel.retrieve({ task: 'x', method: 'fuzzy' }), { code: 'BAD_ARGUMENT' });
});

test('query cache: a repeated query comes from memory and answers as a fresh one; queryCache: 0 turns it off', async () => {
  const make = async (queryCache) => {
    const r = await Retriever.create({ embedder, dim: 64, queryCache });
    for (const [episode, screenshot] of sampleEpisodes()) r.addEpisode(episode, screenshot);
    await r.buildIndex();
    return r;
  };
  const [cached, off] = [await make(undefined), await make(0)];
  const q = { task: 'Star a repository', app: 'Finder', topK: 3 };
  const first = await cached.retrieve(q);
  const again = await cached.retrieve(q);
  assert.deepEqual(again, first);
  assert.deepEqual(cached.queryCacheStats, { hits: 1, misses: 1, size: 1, capacity: 256 });
  // The reference for the cached answer: a retriever that embeds every query afresh.
  assert.deepEqual(await off.retrieve(q), first);
  await off.retrieve(q);
  assert.deepEqual(off.queryCacheStats, { hits: 0, misses: 2, size: 0, capacity: 0 });
  // Another instruction is another key.
  await cached.retrieve({ ...q, instruction: 'Find the task.' });
  assert.equal(cached.queryCacheStats.misses, 2);
  await assert.rejects(make(-1), { code: 'BAD_ARGUMENT' });
});

test("reranking: a Reranker scores as transformers does, and { rerank: true } answers as the CLI's query --rerank", { skip: crossTargetSkip }, async () => {
  const dir = join(FIXTURES, 'reranker');
  const reranker = await Reranker.load({ modelUrl: join(dir, 'tiny-reranker'), device: DEVICE });
  // The reranker alone against transformers (tools/reference/make_reranker_fixtures.py).
  const side = ({ text, images }) => ({ text: text ?? undefined, images: images.map((p) => new Uint8Array(readFileSync(join(FIXTURES, p)))) });
  let worstRerank = 0;
  for (const c of JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')).cases) {
    const [got] = await reranker.score(side(c.query), [side(c.document)], { instruction: c.instruction ?? undefined });
    worstRerank = Math.max(worstRerank, Math.abs(got - c.score));
    assert.ok(Math.abs(got - c.score) <= 1e-5, `${c.name}: ${got} vs ${c.score}`);
  }
  // In the retriever: the CLI's reranked answers on the CLI's library are the reference.
  const ref = cliLibrary();
  const retriever = await Retriever.load(ref.index, { embedder, reranker });
  const queries = sampleQueries().slice(0, 3);
  for (const [i, q] of queries.entries()) {
    const want = cliAnswer(ref.index, q, ['--rerank', '--reranker', join(dir, 'tiny-reranker')]);
    const screenshot = q.screenshot ? new Uint8Array(readFileSync(join(LIBRARY, q.screenshot))) : undefined;
    const got = await retriever.retrieve({ ...q, screenshot, rerank: true });
    assertSameAnswer(got, want, `reranked query ${i}`);
    assert.ok(got.every((r) => typeof r.rerankScore === 'number'), 'every result was rescored (top 5 of rerankTopN 20)');
  }
  console.log(`# reranker in Node: worst |score - transformers| ${worstRerank.toExponential(2)}`);
  const plain = await Retriever.load(ref.index, { embedder });
  await assert.rejects(plain.retrieve({ task: 'x', rerank: true }), { code: 'BAD_ARGUMENT' });
  await assert.rejects(retriever.retrieve({ task: 'x', rerank: true, method: 'text' }), { code: 'BAD_ARGUMENT' });
  await assert.rejects(Reranker.load({ modelUrl: join(dir, 'tiny-reranker'), device: DEVICE, dtype: 'int8' }), { code: 'UNSUPPORTED_DTYPE' });
  reranker.dispose();
});

test('dispose', () => {
  embedder.dispose();
  assert.throws(() => embedder.dimensions, { code: 'DISPOSED' });
  const worst = Math.max(...results.map((r) => r.err));
  console.log(`# device ${DEVICE}: load ${Math.round(loadMs)} ms, worst max abs err ${worst.toExponential(2)}`);
  for (const r of results) console.log(`#   ${r.case} ${r.key}: ${r.err.toExponential(2)} (${r.ms} ms)`);
});

/**
 * A Hub-shaped test server: `/{owner}/{name}/resolve/{revision}/{file}` serves the tiny model's
 * files, with Range requests; `cutAfter` bytes into the first weights download it drops the
 * connection. Records every request's path and Range header.
 */
async function fakeHub({ cutAfter } = {}) {
  const requests = [];
  let cut = cutAfter !== undefined;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push({ path, range: req.headers.range });
    const m = path.match(/^\/org\/tiny\/resolve\/main\/([\w.-]+)$/);
    let bytes;
    try {
      bytes = m && readFileSync(join(MODEL_DIR, m[1]));
    } catch {}
    if (!bytes) return void res.writeHead(404).end('not found');
    const from = Number(req.headers.range?.match(/^bytes=(\d+)-$/)?.[1] ?? 0);
    const body = bytes.subarray(from);
    res.writeHead(from ? 206 : 200, { 'content-length': body.length, ...(from ? { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` } : {}) });
    if (cut && m[1] === 'model.safetensors') {
      // The first `cutAfter` bytes, then the connection stays open until `cut()`: called once
      // the client reports them, so they are on its disk (a stream's error drops queued chunks).
      cut = false;
      res.write(body.subarray(0, cutAfter));
      hangingUp = () => res.socket.end();
      return;
    }
    res.end(body);
  });
  let hangingUp = null;
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const cutNow = () => hangingUp?.();
  return { server, requests, cut: cutNow, url: `http://127.0.0.1:${server.address().port}/` };
}

test('a Hub id through the cache directory: downloaded once, resumed after a cut, then read from disk', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'qwen3-vl-cache-'));
  const hub = await fakeHub({ cutAfter: 3000 });
  const c = cases('text')[0];
  const want = readSafetensor(join(FIXTURES, 'reference', `${c.name}.safetensors`), 'embedding').values;
  const load = (events, onProgress) =>
    Embedder.load({ modelId: 'org/tiny', revision: 'main', hubUrl: hub.url, cacheDir, device: DEVICE, onProgress: (p) => {
      if (p.phase === 'download') events.push(p);
      onProgress?.(p);
    } });
  try {
    // 1. The connection drops 3000 bytes into the weights: a typed error, the part kept.
    const cutOnce = (p) => p.file === 'model.safetensors' && p.loaded >= 3000 && hub.cut();
    await assert.rejects(load([], cutOnce), (e) => e.code === 'MODEL_SOURCE' && /resumes it/.test(e.message));
    // 2. The next load resumes with a Range request and embeds like the reference.
    const events = [];
    const e = await load(events);
    const weights = hub.requests.filter((r) => r.path.endsWith('/model.safetensors'));
    assert.deepEqual(weights.map((r) => r.range), [undefined, 'bytes=3000-']);
    const resumedAt = 3000;
    assert.ok(events.some((p) => p.file === 'model.safetensors' && p.resumedFrom === resumedAt), 'progress says where it resumed');
    assert.ok(maxAbsDiff(await e.embed(caseInputs(c)[0]), want) <= tolerance(c.name));
    e.dispose();
    // 3. Complete files come from the cache: no new request for the weights.
    const again = [];
    const e2 = await load(again);
    assert.equal(hub.requests.filter((r) => r.path.endsWith('/model.safetensors')).length, 2);
    assert.ok(again.filter((p) => p.file === 'model.safetensors').every((p) => p.fromCache));
    assert.ok(maxAbsDiff(await e2.embed(caseInputs(c)[0]), want) <= tolerance(c.name));
    e2.dispose();
    await assert.rejects(Embedder.load({ modelId: '../etc', device: DEVICE }), { code: 'BAD_ARGUMENT' });
  } finally {
    hub.server.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
