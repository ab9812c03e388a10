// Entry point for Node: the wasm is read from disk, `file:` URLs and paths are read from
// disk, and WebGPU comes from the optional `webgpu` package (Dawn) when it is installed and
// finds an adapter; `device: "auto"` takes a hardware adapter, else the CPU.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setPlatform } from './core.js';
import { fetchBytes } from './load.js';
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
  readUrl: async (url, options) => {
    if (url.protocol === 'file:') {
      const bytes = new Uint8Array(
        await readFile(url).catch((e) => {
          throw codedError('MODEL_SOURCE', `cannot read ${fileURLToPath(url)}: ${e.message}`, e);
        }),
      );
      options?.onProgress?.({ phase: 'download', file: options.file, loaded: bytes.length, total: bytes.length, fromCache: false });
      return bytes;
    }
    return fetchBytes(url, options);
  },
  prepareWebGpu,
  // A plain path ('./models/tiny') means a directory on disk.
  resolveModelUrl: (u) => (u instanceof URL || /^[a-z][a-z0-9+.-]*:/i.test(u) ? u : pathToFileURL(resolve(u) + '/')),
});

export * from './core.js';
