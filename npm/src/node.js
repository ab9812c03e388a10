// Entry point for Node: the wasm is read from disk, `file:` URLs and paths are read from
// disk, and WebGPU comes from the optional `webgpu` package (Dawn) when it is installed and
// finds an adapter; `device: "auto"` takes a hardware adapter, else the CPU.
import { statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setPlatform } from './core.js';
import { PIECE_BYTES, fetchBytes } from './load.js';
import { codedError } from './errors.js';

let webgpuTried = false;

/** A file as pieces of at most PIECE_BYTES (readFile stops at 2 GiB; the 2B weights are 4.25 GB). */
async function readPieces(path, options) {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const pieces = [];
    for (let at = 0; at < size || pieces.length === 0; ) {
      const piece = new Uint8Array(Math.min(PIECE_BYTES, size - at));
      const { bytesRead } = await handle.read(piece, 0, piece.length, at);
      if (bytesRead !== piece.length) throw new Error(`short read at byte ${at}`);
      pieces.push(piece);
      at += piece.length;
      options?.onProgress?.({ phase: 'download', file: options.file, loaded: at, total: size, fromCache: false });
    }
    return pieces;
  } finally {
    await handle.close();
  }
}

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
      const path = fileURLToPath(url);
      const pieces = await readPieces(path, options).catch((e) => {
        throw codedError('MODEL_SOURCE', `cannot read ${path}: ${e.message}`, e);
      });
      return options?.pieces ? pieces : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    }
    return fetchBytes(url, options);
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
