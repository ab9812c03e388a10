// The public API, shared by the browser and Node entry points. `platform` supplies what
// differs between them: how to instantiate the wasm, read URLs and find a WebGPU adapter.

import initWasm, { WasmEmbedder, WasmIndex, WasmReranker } from './wasm/qwen3_vl_embed_wasm.js';
import { codedError } from './errors.js';
import { fetchBytes, gatherFiles } from './load.js';
import { makeRetriever } from './retriever.js';

let platform = null;
let ready = null;

/** Called once by the entry point. */
export function setPlatform(p) {
  platform = p;
}

/** Instantiates the wasm module (idempotent). Every async API calls it for you. */
export function init() {
  ready ??= platform.wasmSource().then((module_or_path) => initWasm({ module_or_path }).then((exports) => (wasmExports = exports)));
  return ready;
}

let wasmExports = null;

/**
 * Bytes of wasm linear memory (the CPU path's weights and activations live there; WebGPU
 * weights do not). wasm memory never shrinks, so this is also the peak so far; 0 before init.
 */
export function wasmMemoryBytes() {
  return wasmExports?.memory?.buffer.byteLength ?? 0;
}

function requireInit() {
  if (!ready) throw codedError('NOT_INITIALIZED', 'call `await init()` (or any async API) before using Index synchronously');
}

/**
 * The WebGPU adapter `navigator.gpu` offers (after the platform had a chance to add it):
 * null, or `{ software }` where `software` marks a CPU-emulated adapter (SwiftShader,
 * llvmpipe/lavapipe), on which the wasm CPU path is much faster.
 */
async function probeWebGpu() {
  await platform.prepareWebGpu?.();
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info ?? {};
    const names = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
    return { software: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe/i.test(names) };
  } catch {
    return null;
  }
}

/** "webgpu" uses any adapter; "auto" a hardware one, else the CPU. */
async function pickDevice(device = 'auto') {
  if (!['auto', 'webgpu', 'cpu'].includes(device)) {
    throw codedError('UNKNOWN_DEVICE', `unknown device ${JSON.stringify(device)}: expected "webgpu", "cpu" or "auto"`);
  }
  if (device === 'cpu') return 'cpu';
  const adapter = await probeWebGpu();
  if (device === 'webgpu' && !adapter) {
    throw codedError('DEVICE_INIT', 'WebGPU is not available here (no navigator.gpu or no adapter)');
  }
  if (device === 'webgpu') return 'webgpu';
  return adapter && !adapter.software ? 'webgpu' : 'cpu';
}

/** Images the wasm side does not take directly (canvases, bitmaps, <img>, Blobs) -> pixels or bytes. */
async function normalizeImage(image) {
  if (image instanceof Uint8Array || image instanceof ArrayBuffer) return image;
  if (ArrayBuffer.isView(image)) return new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
  if (typeof Blob !== 'undefined' && image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (image && typeof image === 'object' && 'data' in image && 'width' in image) return image; // ImageData-like
  const drawable =
    (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) ||
    (typeof HTMLCanvasElement !== 'undefined' && image instanceof HTMLCanvasElement) ||
    (typeof OffscreenCanvas !== 'undefined' && image instanceof OffscreenCanvas) ||
    (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) ||
    (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement);
  if (drawable && typeof OffscreenCanvas !== 'undefined') {
    const width = image.naturalWidth || image.videoWidth || image.width;
    const height = image.naturalHeight || image.videoHeight || image.height;
    const ctx = new OffscreenCanvas(width, height).getContext('2d');
    ctx.drawImage(image, 0, 0);
    return ctx.getImageData(0, 0, width, height);
  }
  return image; // let the wasm side report what it got
}

async function normalizeInput(input) {
  if (typeof input === 'string' || !input || typeof input !== 'object') return input;
  const out = { ...input };
  if (input.image != null) out.image = await normalizeImage(input.image);
  if (Array.isArray(input.images)) out.images = await Promise.all(input.images.map(normalizeImage));
  return out;
}

/**
 * The device and the files of a model to load, from `{ modelUrl }` or `{ files }` (shared by
 * `Embedder.load` and `Reranker.load`).
 */
async function modelSource(options) {
  await init();
  const { onProgress, cache = true } = options;
  const readUrl = (url, extra) =>
    platform.readUrl(url, { cache, cacheDir: options.cacheDir, model: true, onProgress, file: String(url).split('/').pop(), ...extra });
  const device = await pickDevice(options.device);
  let modelUrl = options.modelId ? hubModelUrl(options) : options.modelUrl;
  if (modelUrl && !options.modelId && platform.resolveModelUrl) modelUrl = platform.resolveModelUrl(modelUrl);
  return { device, files: await gatherFiles({ ...options, modelUrl }, readUrl) };
}

/**
 * The directory URL of a Hugging Face Hub model at a revision (a branch, tag or commit; pin a
 * commit for files that never change under a cached URL): `{hubUrl}/{modelId}/resolve/{revision}/`.
 */
function hubModelUrl({ modelId, revision = 'main', hubUrl = 'https://huggingface.co' }) {
  if (typeof modelId !== 'string' || !/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(modelId)) {
    throw codedError('BAD_ARGUMENT', `modelId ${JSON.stringify(modelId)}: expected a Hub id of the form owner/name`);
  }
  if (typeof revision !== 'string' || !revision || revision.includes('..')) {
    throw codedError('BAD_ARGUMENT', `revision ${JSON.stringify(revision)}: expected a branch, tag or commit`);
  }
  return new URL(`${modelId}/resolve/${encodeURIComponent(revision)}/`, String(hubUrl).replace(/\/?$/, '/'));
}

/** The `WasmEmbedder` inside an `Embedder`, for the retriever glue only. */
const WASM = Symbol('wasm');

/** Qwen3-VL-Embedding: text, screenshots and both -> unit vectors. */
export class Embedder {
  #wasm;

  constructor(wasm) {
    if (!(wasm instanceof WasmEmbedder)) throw codedError('BAD_ARGUMENT', 'use `await Embedder.load(...)`');
    this.#wasm = wasm;
  }

  /**
   * Loads a model from `{ modelUrl }` (a directory URL with config.json, tokenizer.json and
   * model.safetensors or a shard index) or `{ files: { config, tokenizer, weights } }`.
   */
  static async load(options = {}) {
    const { device, files } = await modelSource(options);
    // Tensors are read from these JS buffers one at a time (never copied whole into wasm
    // memory); onProgress hears { phase: 'load', loaded, total } in bytes after each one.
    const wasm = await WasmEmbedder.load(files.config, files.tokenizer, files.weights, {
      device,
      // Default: a converted directory's own precision (its format file), else f32.
      dtype: options.dtype,
      format: files.format,
      batchSize: options.batchSize,
      maxBatchTokens: options.maxBatchTokens,
      maxLength: options.maxLength,
      onProgress: options.onProgress,
    });
    return new Embedder(wasm);
  }

  /** `"webgpu"` or `"cpu"`. */
  get device() {
    return this.#live().device;
  }

  /** The full embedding width (the largest `dim`). */
  get dimensions() {
    return this.#live().hiddenSize;
  }

  /** Embeds `{ text, image, images, instruction, dim }` (or a string) -> `Float32Array`. */
  async embed(input) {
    const dim = input && typeof input === 'object' ? input.dim : undefined;
    return this.#live().embed(await normalizeInput(input), dim);
  }

  /** Embeds several inputs -> `Float32Array[]`; `options.dim` truncates every vector. */
  async embedBatch(inputs, options = {}) {
    if (!Array.isArray(inputs)) throw codedError('BAD_ARGUMENT', 'embedBatch expects an array of inputs');
    return this.#live().embedBatch(await Promise.all(inputs.map(normalizeInput)), options.dim);
  }

  /** Frees the model (GPU buffers and wasm memory). The embedder cannot be used afterwards. */
  dispose() {
    this.#wasm?.free();
    this.#wasm = null;
  }

  [WASM]() {
    return this.#live();
  }

  #live() {
    if (!this.#wasm) throw codedError('DISPOSED', 'this Embedder was disposed');
    return this.#wasm;
  }
}

/** Qwen3-VL-Reranker: scores how well documents answer a query, in `[0, 1]`. */
export class Reranker {
  #wasm;

  constructor(wasm) {
    if (!(wasm instanceof WasmReranker)) throw codedError('BAD_ARGUMENT', 'use `await Reranker.load(...)`');
    this.#wasm = wasm;
  }

  /**
   * Loads a reranker from `{ modelUrl }` or `{ files: { config, tokenizer, weights } }`, with
   * `device`, `cache` and `onProgress` as `Embedder.load` takes them. It computes in f32.
   */
  static async load(options = {}) {
    const { device, files } = await modelSource(options);
    return new Reranker(await WasmReranker.load(files.config, files.tokenizer, files.weights, { device, dtype: options.dtype, onProgress: options.onProgress }));
  }

  /** `"webgpu"` or `"cpu"`. */
  get device() {
    return this.#live().device;
  }

  /**
   * Scores each document (a string or `{ text, image, images }`) against `query` ->
   * `Float32Array`; `options.instruction` replaces the reranker's default one.
   */
  async score(query, documents, options = {}) {
    if (!Array.isArray(documents)) throw codedError('BAD_ARGUMENT', 'score expects an array of documents');
    return this.#live().score(await normalizeInput(query), await Promise.all(documents.map(normalizeInput)), options.instruction);
  }

  /** Frees the model. The reranker cannot be used afterwards. */
  dispose() {
    this.#wasm?.free();
    this.#wasm = null;
  }

  [WASM]() {
    return this.#live();
  }

  #live() {
    if (!this.#wasm) throw codedError('DISPOSED', 'this Reranker was disposed');
    return this.#wasm;
  }
}

/** Marks the private "wrap an existing WasmIndex" use of the Index constructor. */
const WRAP = Symbol('wrap');

/** Nearest-neighbour index over embeddings (exact below a size, HNSW above). */
export class Index {
  #wasm;

  /** Requires `await init()` first; `Index.create` does that for you. */
  constructor(options = {}, fromWasm = undefined) {
    requireInit();
    if (options === WRAP) {
      this.#wasm = fromWasm;
      return;
    }
    const { model = 'Qwen3-VL-Embedding', dim, strategy = 'auto' } = options;
    if (!Number.isInteger(dim) || dim <= 0) throw codedError('BAD_ARGUMENT', 'Index needs a positive integer `dim`');
    this.#wasm = new WasmIndex(model, dim, strategy);
  }

  static async create(options) {
    await init();
    return new Index(options);
  }

  /** Reads a `toBytes()` buffer; throws `CORRUPT_INDEX` when it is damaged. */
  static async fromBytes(bytes) {
    await init();
    return new Index(WRAP, WasmIndex.fromBytes(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)));
  }

  add(id, vector, metadata = null) {
    this.#wasm.add(id, toF32(vector), metadata);
  }
  remove(id) {
    this.#wasm.remove(id);
  }
  has(id) {
    return this.#wasm.has(id);
  }
  get(id) {
    return this.#wasm.get(id);
  }
  /**
   * `[{ id, score, metadata }]`, best first; score is the cosine similarity. `filter`:
   * `{ field: value }`, only items whose metadata field equals the value (strings ignore ASCII
   * case; an array field needs one equal element; all fields must match), applied inside the
   * search, so `k` items come back whenever that many match.
   */
  search(query, k = 10, filter = undefined) {
    return this.#wasm.search(toF32(query), k, filter);
  }
  get size() {
    return this.#wasm.size;
  }
  get dim() {
    return this.#wasm.dim;
  }
  get model() {
    return this.#wasm.model;
  }
  ids() {
    return this.#wasm.ids();
  }
  toBytes() {
    return this.#wasm.toBytes();
  }
  /** `[size, dim]` float32 `.npy` of the stored unit vectors, rows in `ids()` order. */
  toNpy() {
    return this.#wasm.toNpy();
  }
  /** `{ model, dim, createdAt, items: [{ id, metadata }] }`. */
  toJSON() {
    return this.#wasm.toJSON();
  }
  dispose() {
    this.#wasm?.free();
    this.#wasm = null;
  }
}

function toF32(v) {
  if (v instanceof Float32Array) return v;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Float32Array.from(v);
  throw codedError('BAD_VECTOR', 'a vector must be a Float32Array or an array of numbers');
}

/** Demos in, ranked demos out: the Rust `DemoRetriever` in wasm, see `retriever.js`. */
export const Retriever = makeRetriever({
  init,
  readUrl: (url, options) => platform.readUrl(url, options),
  resolveUrl: (source) => platform.resolveLibraryUrl(source),
  normalizeImage,
  wasmOf: (embedder) => {
    if (!(embedder instanceof Embedder)) throw codedError('BAD_ARGUMENT', '{ embedder } must be an Embedder');
    return embedder[WASM]();
  },
  rerankerWasmOf: (reranker) => {
    if (!(reranker instanceof Reranker)) throw codedError('BAD_ARGUMENT', '{ reranker } must be a Reranker');
    return reranker[WASM]();
  },
});
export { DEFAULT_INSTRUCTION, demoFromEpisode, hostOf, normalizeDomain, platformOf } from './retriever.js';
export { fetchBytes, CACHE_NAME } from './load.js';
export { codedError } from './errors.js';
