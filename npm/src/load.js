// Getting model files into memory: URLs (with the Cache API and progress), Blobs/Files,
// buffers. Environment hooks (Node's file system) are passed in by the entry point.

import { codedError } from './errors.js';

export const CACHE_NAME = 'qwen3-vl-embed-v1';

/**
 * Largest piece a weight file is handed to the wasm side in. Weight files are kept as lists of
 * pieces (as a download stream delivers them), never concatenated: that would briefly double
 * memory, and one typed array cannot hold every checkpoint (the 2B model is a 4.25 GB file).
 */
export const PIECE_BYTES = 256 << 20;

/** `fetch(url, init)` that resolves only to an ok response; anything else is a MODEL_SOURCE error. */
export async function fetchOk(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw codedError('MODEL_SOURCE', `cannot fetch ${url}: ${e.message}`, e);
  }
  if (!response.ok) throw codedError('MODEL_SOURCE', `cannot fetch ${url}: HTTP ${response.status}`);
  return response;
}

/**
 * Bytes of a URL, through the Cache API when there is one, reporting progress.
 * With `pieces: true` the result is the file's pieces (`Uint8Array[]`), not one array; in a
 * Worker with the Cache API it is a reader of the cached file instead (`cachedFileReader`).
 */
export async function fetchBytes(url, { cache = true, onProgress, file = String(url), pieces = false } = {}) {
  let store = cache && globalThis.caches ? await globalThis.caches.open(CACHE_NAME).catch(() => null) : null;
  if (store && pieces && typeof globalThis.FileReaderSync === 'function') {
    const reader = await cachedFileReader(store, url, { onProgress, file });
    if (reader) return reader;
    store = null; // the cache refused the file (quota, a private window): download it again, into memory
  }
  let response = store ? await store.match(String(url)) : undefined;
  const fromCache = Boolean(response);
  if (!response) {
    response = await fetchOk(url);
    // A cache that refuses the file (its quota, a private window, a nearly full disk) is not an
    // error: the bytes are here. The next load downloads it again, which the warning says.
    if (store) await store.put(String(url), response.clone()).catch((e) => warnRefused(url, e));
  }
  const total = Number(response.headers.get('content-length')) || undefined;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ phase: 'download', file, loaded: bytes.length, total: bytes.length, fromCache });
    return pieces ? splitViews(bytes) : bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ phase: 'download', file, loaded, total, fromCache });
  }
  return pieces ? chunks : concat(chunks, loaded);
}

/**
 * A weight file for the loader without holding it in JS memory (Workers only): the download is
 * streamed into the Cache API, and the cached body, a disk-backed Blob, is read one tensor at
 * a time with `FileReaderSync` (synchronous, which the wasm loader needs; Workers only).
 * `null` when the cache refuses the file (its quota, or a private window's small one).
 */
async function cachedFileReader(store, url, { onProgress, file }) {
  let response = await store.match(String(url));
  const fromCache = Boolean(response);
  if (!response) {
    const fetched = await fetchOk(url);
    const total = Number(fetched.headers.get('content-length')) || undefined;
    let loaded = 0;
    const counted = fetched.body.pipeThrough(
      new TransformStream({
        transform(chunk, out) {
          loaded += chunk.length;
          onProgress?.({ phase: 'download', file, loaded, total, fromCache: false });
          out.enqueue(chunk);
        },
      }),
    );
    // Only the type is kept: the body is stored decoded, so an encoding header would be wrong.
    const headers = { 'content-type': fetched.headers.get('content-type') ?? 'application/octet-stream' };
    try {
      await store.put(String(url), new Response(counted, { headers }));
    } catch (e) {
      // A network failure is the caller's error; a cache that refuses the file is not.
      if (e?.name === 'TypeError' && !/Cache/i.test(e.message)) {
        throw codedError('MODEL_SOURCE', `download of ${url} failed: ${e.message}`, e);
      }
      warnRefused(url, e);
      return null;
    }
    response = await store.match(String(url));
    if (!response) return null;
  }
  const blob = await response.blob();
  if (fromCache) onProgress?.({ phase: 'download', file, loaded: blob.size, total: blob.size, fromCache });
  return {
    size: blob.size,
    read: (offset, length) => new Uint8Array(new FileReaderSync().readAsArrayBuffer(blob.slice(offset, offset + length))),
  };
}

/** The console warning for a file the Cache API did not store; the load goes on from memory. */
function warnRefused(url, e) {
  console.warn(`qwen3-vl-embed: the Cache API refused ${url} (${e?.message}); loading it from memory, not cached for the next load`);
}

function concat(chunks, length) {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** Views of at most PIECE_BYTES over one array (no copy). */
function splitViews(bytes) {
  const out = [];
  for (let at = 0; at < bytes.length; at += PIECE_BYTES) out.push(bytes.subarray(at, Math.min(at + PIECE_BYTES, bytes.length)));
  return out.length ? out : [bytes];
}

/** A Blob/File read piece by piece (never one ArrayBuffer of the whole file). */
async function blobPieces(blob) {
  const out = [];
  for (let at = 0; at < blob.size; at += PIECE_BYTES) {
    out.push(new Uint8Array(await blob.slice(at, Math.min(at + PIECE_BYTES, blob.size)).arrayBuffer()));
  }
  return out.length ? out : [new Uint8Array(0)];
}

/** A file given as a URL, Blob/File, ArrayBuffer or typed array -> bytes. */
export async function toBytes(source, what, readUrl) {
  if (source instanceof Uint8Array) return source;
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  if (source instanceof URL) return readUrl(source);
  throw codedError('BAD_ARGUMENT', `${what}: expected a URL, Blob, ArrayBuffer or Uint8Array`);
}

/** Like `toBytes`, as a list of pieces: for weight files, which may exceed one typed array. */
async function toPieces(source, what, readUrl) {
  if (Array.isArray(source) && source.every((p) => p instanceof Uint8Array)) return source;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return blobPieces(source);
  if (source instanceof URL) return readUrl(source, { pieces: true });
  return splitViews(await toBytes(source, what, readUrl));
}

const decoder = new TextDecoder();

/** The file that marks a converted model directory (`qwen3-vl-embed convert`) and names its precision. */
export const FORMAT_FILE = 'qwen3-vl-embed-format.json';

/**
 * Resolves `{ modelUrl }` or `{ files }` to `{ config: string, tokenizer: Uint8Array,
 * weights: [{ name, bytes: Uint8Array[] }], format?: string }` (`format`: the text of a
 * converted directory's FORMAT_FILE). `readUrl(url, { pieces })` fetches one URL.
 */
export async function gatherFiles(options, readUrl) {
  if (options.files) {
    const { config, tokenizer, weights, format } = options.files;
    if (config === undefined || tokenizer === undefined || !weights) {
      throw codedError('BAD_ARGUMENT', 'files needs config, tokenizer and weights');
    }
    const list = Array.isArray(weights) ? weights : [weights];
    return {
      format: format === undefined || typeof format === 'string' ? format : decoder.decode(await toBytes(format, 'files.format', readUrl)),
      config: typeof config === 'string' ? config : decoder.decode(await toBytes(config, 'files.config', readUrl)),
      tokenizer: await toBytes(tokenizer, 'files.tokenizer', readUrl),
      weights: await Promise.all(
        list.map(async (w, i) => {
          const named = w && typeof w === 'object' && 'data' in w && !(w instanceof Blob);
          const source = named ? w.data : w;
          const name = named ? w.name : (source?.name ?? String(source instanceof URL ? source : `weights[${i}]`));
          return { name, bytes: await toPieces(source, `files.weights[${i}]`, readUrl) };
        }),
      ),
    };
  }
  if (!options.modelUrl) throw codedError('BAD_ARGUMENT', 'Embedder.load needs { modelUrl }, { modelId } or { files }');
  const base = new URL(String(options.modelUrl).replace(/\/?$/, '/'), globalThis.location?.href);
  const at = (name) => new URL(name, base);
  const [config, tokenizer] = await Promise.all([readUrl(at('config.json')), readUrl(at('tokenizer.json'))]);
  // Optional files: a plain directory has no format file, a single-file one no shard index.
  const [format, index] = await Promise.all(
    [FORMAT_FILE, 'model.safetensors.index.json'].map((name) => readUrl(at(name)).catch(() => null)),
  );
  let shards = ['model.safetensors'];
  if (index) shards = [...new Set(Object.values(JSON.parse(decoder.decode(index)).weight_map ?? {}))];
  const weights = [];
  for (const name of shards) weights.push({ name, bytes: await readUrl(at(name), { pieces: true }) });
  return { config: decoder.decode(config), tokenizer, weights, format: format ? decoder.decode(format) : undefined };
}
