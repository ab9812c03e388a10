// Entry point for Node: the wasm is read from disk, `file:` URLs and paths are read from
// disk (weights one tensor at a time), model URLs are downloaded once into a cache directory
// (node-files.js), and WebGPU comes from the optional `webgpu` package (Dawn) when it is installed and
// finds an adapter; `device: "auto"` takes a hardware adapter, else the CPU.
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setPlatform } from './core.js';
import { fetchBytes } from './load.js';
import { cachedDownload, readLocal } from './node-files.js';
import { codedError } from './errors.js';

let webgpuTried = false;

async function prepareWebGpu() {
  if (webgpuTried || globalThis.navigator?.gpu) return;
  webgpuTried = true;
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    if (globalThis.navigator) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
    else globalThis.navigator = { gpu };
    // wgpu's WebGPU backend looks for a `Window` global to decide it runs on the main thread.
    globalThis.Window ??= class Window {};
  } catch {
    // no `webgpu` package (or no usable driver): the CPU path it is
  }
}

setPlatform({
  wasmSource: () => readFile(new URL('./wasm/qwen3_vl_embed_wasm_bg.wasm', import.meta.url)),
  // Model files (`model: true`) from http(s) go through the cache directory (node-files.js);
  // files on disk are read in place. Weights (`pieces: true`) become synchronous readers.
  readUrl: async (url, options = {}) => {
    const cached = url.protocol !== 'file:' && options.model && options.cache !== false;
    if (url.protocol !== 'file:' && !cached) return fetchBytes(url, options);
    const path = cached ? await cachedDownload(url, options) : fileURLToPath(url);
    return readLocal(path, { ...options, fromCache: cached }).catch((e) => {
      throw codedError('MODEL_SOURCE', `cannot read ${path}: ${e.message}`, e);
    });
  },
  prepareWebGpu,
  // A plain path ('./models/tiny') means a directory on disk.
  resolveModelUrl: (u) => (u instanceof URL || /^[a-z][a-z0-9+.-]*:/i.test(u) ? u : pathToFileURL(resolve(u) + '/')),
  // A plain path is a library directory or a packed file on disk (a directory URL ends in '/').
  resolveLibraryUrl: (u) => {
    if (u instanceof URL || /^[a-z][a-z0-9+.-]*:/i.test(u)) return new URL(u);
    const path = resolve(String(u));
    return pathToFileURL(statSync(path, { throwIfNoEntry: false })?.isDirectory() ? `${path}/` : path);
  },
});

export * from './core.js';
