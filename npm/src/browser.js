// Entry point for browsers, extensions and bundlers.
import { setPlatform } from './core.js';
import { fetchBytes } from './load.js';

setPlatform({
  wasmSource: async () => new URL('./wasm/qwen3_vl_embed_wasm_bg.wasm', import.meta.url),
  readUrl: (url, options) => fetchBytes(url, options),
  // Relative to the page (or the extension's service worker); a directory URL ends in '/'.
  resolveLibraryUrl: (u) => new URL(String(u), globalThis.location?.href),
});

export * from './core.js';
