// Run against the packed tarball installed in a temp directory (scripts/test-all.sh), so the
// import below resolves exactly what users get from npm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Embedder, Index, init } from 'qwen3-vl-embed';
import { FIXTURES, MODEL_DIR, caseInputs, cases, isEmptyCase, maxAbsDiff, readSafetensor, tolerance } from './helpers.js';

const DEVICE = process.env.QWEN3_VL_DEVICE ?? 'cpu';
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
  for (const c of cases()) {
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

test('dispose', () => {
  embedder.dispose();
  assert.throws(() => embedder.dimensions, { code: 'DISPOSED' });
  const worst = Math.max(...results.map((r) => r.err));
  console.log(`# device ${DEVICE}: load ${Math.round(loadMs)} ms, worst max abs err ${worst.toExponential(2)}`);
  for (const r of results) console.log(`#   ${r.case} ${r.key}: ${r.err.toExponential(2)} (${r.ms} ms)`);
});
