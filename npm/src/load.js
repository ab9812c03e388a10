// Getting model files into memory: URLs (with the Cache API and progress), Blobs/Files,
// buffers. Environment hooks (Node's file system) are passed in by the entry point.

import { codedError } from './errors.js';

export const CACHE_NAME = 'qwen3-vl-embed-v1';

/** Bytes of a URL, through the Cache API when there is one, reporting progress. */
export async function fetchBytes(url, { cache = true, onProgress, file = String(url) } = {}) {
  const store = cache && globalThis.caches ? await globalThis.caches.open(CACHE_NAME).catch(() => null) : null;
  let response = store ? await store.match(String(url)) : undefined;
  const fromCache = Boolean(response);
  if (!response) {
    try {
      response = await fetch(url);
    } catch (e) {
      throw codedError('MODEL_SOURCE', `cannot fetch ${url}: ${e.message}`, e);
    }
    if (!response.ok) throw codedError('MODEL_SOURCE', `cannot fetch ${url}: HTTP ${response.status}`);
    if (store) await store.put(String(url), response.clone()).catch(() => {});
  }
  const total = Number(response.headers.get('content-length')) || undefined;
  if (!response.body || !onProgress) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ phase: 'download', file, loaded: bytes.length, total: bytes.length, fromCache });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ phase: 'download', file, loaded, total, fromCache });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** A file given as a string (text), URL, Blob/File, ArrayBuffer or typed array -> bytes. */
export async function toBytes(source, what, readUrl) {
  if (source instanceof Uint8Array) return source;
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  if (source instanceof URL) return readUrl(source);
  throw codedError('BAD_ARGUMENT', `${what}: expected a URL, Blob, ArrayBuffer or Uint8Array`);
}

const decoder = new TextDecoder();

/**
 * Resolves `{ modelUrl }` or `{ files }` to `{ config: string, tokenizer: Uint8Array,
 * weights: [{ name, bytes }] }`. `readUrl(url, file)` fetches one URL.
 */
export async function gatherFiles(options, readUrl) {
  if (options.files) {
    const { config, tokenizer, weights } = options.files;
    if (config === undefined || tokenizer === undefined || !weights) {
      throw codedError('BAD_ARGUMENT', 'files needs config, tokenizer and weights');
    }
    const list = Array.isArray(weights) ? weights : [weights];
    return {
      config: typeof config === 'string' ? config : decoder.decode(await toBytes(config, 'files.config', readUrl)),
      tokenizer: await toBytes(tokenizer, 'files.tokenizer', readUrl),
      weights: await Promise.all(
        list.map(async (w, i) => {
          const named = w && typeof w === 'object' && 'data' in w && !(w instanceof Blob);
          const source = named ? w.data : w;
          const name = named ? w.name : (source?.name ?? String(source instanceof URL ? source : `weights[${i}]`));
          return { name, bytes: await toBytes(source, `files.weights[${i}]`, readUrl) };
        }),
      ),
    };
  }
  if (!options.modelUrl) throw codedError('BAD_ARGUMENT', 'Embedder.load needs { modelUrl } or { files }');
  const base = new URL(String(options.modelUrl).replace(/\/?$/, '/'), globalThis.location?.href);
  const at = (name) => new URL(name, base);
  const [config, tokenizer] = await Promise.all([readUrl(at('config.json')), readUrl(at('tokenizer.json'))]);
  let shards = ['model.safetensors'];
  const index = await readUrl(at('model.safetensors.index.json')).catch(() => null);
  if (index) shards = [...new Set(Object.values(JSON.parse(decoder.decode(index)).weight_map ?? {}))];
  const weights = [];
  for (const name of shards) weights.push({ name, bytes: await readUrl(at(name)) });
  return { config: decoder.decode(config), tokenizer, weights };
}
