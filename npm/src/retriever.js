// `Retriever`: glue over `WasmRetriever`, the Rust `demo_retriever::DemoRetriever` compiled to
// wasm. Every retrieval rule (episode fields, domain and platform rules, ids, scores, bonuses,
// tie-breaks) and the library format are the Rust crate's, so results equal the CLI's and a
// library moves between them as it is. This file only moves values: images to bytes, files
// from URLs, the embedder's wasm handle.

import { WasmRetriever, demoFromEpisode as wasmDemoFromEpisode, hostOf as wasmHostOf, normalizeDomain as wasmNormalizeDomain, platformOf as wasmPlatformOf } from './wasm/qwen3_vl_embed_wasm.js';
import { codedError } from './errors.js';

/** The Rust crate's `DEFAULT_INSTRUCTION` (the npm test checks that a new Retriever reports it). */
export const DEFAULT_INSTRUCTION = "Retrieve the GUI demonstration that shows how to complete the user's task.";

/** The crate's host rule (needs `await init()` first, as every sync wasm call). */
export const hostOf = (url) => wasmHostOf(String(url ?? '')) ?? null;
/** The crate's domain normalisation (after `await init()`). */
export const normalizeDomain = (domain) => wasmNormalizeDomain(String(domain));
/** The crate's platform rule (after `await init()`). */
export const platformOf = (firstUrl, appName) => wasmPlatformOf(firstUrl ?? undefined, appName ?? undefined);

/** The demo the retriever makes of a seed episode, with `screenshot` attached (after `await init()`). */
export function demoFromEpisode(episode, screenshot = null) {
  return { ...wasmDemoFromEpisode(episode), screenshot };
}

/** A `Demo` object as the seed episode the crate reads (its top-level fields override). */
function episodeOf(demo) {
  if (!demo || typeof demo !== 'object') throw codedError('BAD_ARGUMENT', 'a demo must be an object');
  const episode = { episode_id: demo.id, instruction: demo.goal, app_name: demo.appName, domain: demo.domain, platform: demo.platform, tags: demo.tags, metadata: demo.metadata };
  return Object.fromEntries(Object.entries(episode).filter(([, v]) => v != null));
}

/** Bytes or `ImageData` go to wasm as they are; Blobs, canvases and bitmaps wait for `buildIndex`. */
const isReady = (image) => image == null || image instanceof Uint8Array || image instanceof ArrayBuffer || (typeof image === 'object' && 'data' in image && 'width' in image);

/**
 * Builds the class. `env`: `{ init, readUrl(url, options), normalizeImage(image), wasmOf(embedder),
 * rerankerWasmOf(reranker) }` from `core.js` (passed in to avoid an import cycle).
 */
export function makeRetriever(env) {
  return class Retriever {
    #wasm;
    #embedder;
    #reranker;
    #screenshots;
    #warned = false;
    /** id -> [episode, screenshot] whose screenshot must be read asynchronously first. */
    #deferred = new Map();

    /** Use `Retriever.create`, `load`, `fromBytes` or `fromFiles`. */
    constructor(wasm, { embedder, reranker, queryCache, screenshots } = {}) {
      this.#wasm = wasm;
      this.#embedder = embedder ?? null;
      this.#reranker = reranker ?? null;
      if (reranker != null) env.rerankerWasmOf(reranker);
      if (screenshots != null && typeof screenshots !== 'function') throw codedError('BAD_ARGUMENT', 'screenshots must be a function ({ demoId, path }) => image bytes');
      // Reranking shows the reranker each candidate's screenshot; a loaded library keeps only
      // its episodes' paths. Default: read the path (a file in Node, a URL relative to the page).
      this.#screenshots = screenshots ?? (({ path }) => env.readUrl(env.resolveUrl(path), { cache: false }));
      if (queryCache !== undefined) {
        if (!Number.isInteger(queryCache) || queryCache < 0) throw codedError('BAD_ARGUMENT', `queryCache ${queryCache}: expected a whole number >= 0 (0 turns it off)`);
        wasm.setQueryCache(queryCache);
      }
    }

    /**
     * `{ embedder, reranker, queryCache, model, dim, instruction, bonuses: { app, domain },
     * rerankTopN, strategy }`; `dim` (64 up to the model's width) defaults to 512 capped at the
     * width, bonuses to 0.1 each, rerankTopN to 20, strategy (`'auto'`, `'exact'`, `'hnsw'`) to
     * `'auto'`. `reranker` (a `Reranker`) makes `retrieve({ rerank: true })` possible;
     * `queryCache` is how many query embeddings are kept in memory (default 256, 0: off);
     * `screenshots` (`({ demoId, path }) => bytes`, may be async) gives the reranker a demo's
     * screenshot that is not in memory (default: read `path`).
     */
    static async create({ embedder, reranker, queryCache, screenshots, model = 'Qwen3-VL-Embedding', dim, instruction = DEFAULT_INSTRUCTION, bonuses = {}, rerankTopN, strategy } = {}) {
      await env.init();
      if (!embedder) throw codedError('BAD_ARGUMENT', 'Retriever.create needs { embedder }');
      if (dim !== undefined && !Number.isInteger(dim)) throw codedError('BAD_DIMENSION', `dim ${dim}: expected a whole number`);
      return new Retriever(new WasmRetriever({ model, dim, instruction, bonuses, rerankTopN, strategy }, embedder.dimensions), { embedder, reranker, queryCache, screenshots });
    }

    /**
     * A library saved by the CLI (`index`, `add`) or by `toFiles`: `source` is a directory URL
     * (ending in `/`; in Node also a directory path) or the URL / path of a packed file
     * (`qwen3-vl-embed pack`, `toBytes`). `embedder` may be left out for text-only retrieval.
     * Demo files are named by the sha256 of their bytes, so they go through the Cache API when
     * `cache` is on (default); the manifest and its generation's files are always fetched
     * afresh (a directory indexed again from scratch at the same URL starts over at `gen-1`).
     * `reranker`, `queryCache` and `screenshots` as in `create`.
     */
    static async load(source, { embedder, reranker, queryCache, screenshots, cache = true, onProgress } = {}) {
      await env.init();
      const url = env.resolveUrl(source);
      const models = { embedder, reranker, queryCache, screenshots };
      if (!String(url).endsWith('/')) return Retriever.fromBytes(await env.readUrl(url, { cache, onProgress }), models);
      const files = {};
      for (;;) {
        const needed = WasmRetriever.filesNeeded(files);
        if (!needed.length) break;
        await Promise.all(
          needed.map(async (name) => {
            // A name the library does not have (a small index has no graph) is left out.
            const bytes = await env.readUrl(new URL(name, url), { cache: cache && name.startsWith('demos/'), onProgress, file: name }).catch(() => null);
            if (bytes) files[name] = bytes;
          }),
        );
        if (!files['manifest.json']) throw codedError('CORRUPT_INDEX', `no manifest.json at ${url}: not a demo library`);
      }
      return Retriever.fromFiles(files, models);
    }

    /** A packed library (`qwen3-vl-embed pack`, `toBytes`) as bytes; options as in `load`. */
    static async fromBytes(bytes, { embedder, reranker, queryCache, screenshots } = {}) {
      await env.init();
      const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      return new Retriever(WasmRetriever.fromPacked(buf), { embedder, reranker, queryCache, screenshots });
    }

    /** A library from its files by name (`toFiles()`, or an index directory's files); options as in `load`. */
    static async fromFiles(files, { embedder, reranker, queryCache, screenshots } = {}) {
      await env.init();
      return new Retriever(WasmRetriever.fromFiles(files), { embedder, reranker, queryCache, screenshots });
    }

    /** `{ model, dim, instruction, bonuses: { app, domain }, rerankTopN, strategy }`. */
    get settings() {
      return this.#live().settings;
    }

    /** Adds or replaces a demo `{ id, goal, screenshot, appName, domain, platform, tags, metadata }`; embedded by `buildIndex`. */
    addDemo(demo) {
      return this.addEpisode(episodeOf(demo), demo.screenshot ?? null);
    }

    /** Adds a seed episode `{ episode_id, instruction, steps: [{ observation: { app_name, url } }] }` with its screenshot. */
    addEpisode(episode, screenshot = null) {
      const ready = isReady(screenshot);
      this.#live().addEpisode(episode, ready ? screenshot : null);
      const id = this.#live().demo(String(episode.episode_id)).id;
      if (ready) this.#deferred.delete(id);
      else this.#deferred.set(id, [episode, screenshot]);
      return this;
    }

    /** Removes a demo; false when there was none. */
    remove(id) {
      this.#deferred.delete(id);
      return this.#live().remove(id);
    }

    get size() {
      return this.#live().size;
    }
    /** Demos added since the last `buildIndex`. */
    get pending() {
      return this.#live().pending;
    }
    demo(id) {
      return this.#live().demo(id);
    }

    /** Embeds the pending demos, `batchSize` per model call; `onProgress({ done, total })` after each batch. */
    async buildIndex({ batchSize = 8, onProgress } = {}) {
      for (const [episode, screenshot] of this.#deferred.values()) this.#live().addEpisode(episode, await env.normalizeImage(screenshot));
      this.#deferred.clear();
      return this.#live().buildIndex(env.wasmOf(this.#needEmbedder('buildIndex')), batchSize, onProgress);
    }

    /**
     * `{ task, screenshot, topK = 5, app, domain, instruction, method, rerank }` -> `[{ rank,
     * demoId, score, embeddingScore, rerankScore, demo }]`, best first. `method`: `'multimodal'`
     * (the model), `'text'` (TF-IDF over goal, app and domain, no model) or `'auto'` (default:
     * the model when this retriever has an embedder, else text with a warning). `rerank: true`
     * rescores the best `rerankTopN` candidates with the `reranker` (multimodal only), as the
     * CLI's `query --rerank`.
     */
    async retrieve(query = {}) {
      const { method = 'auto', rerank = false, ...rest } = query;
      if (typeof rerank !== 'boolean') throw codedError('BAD_ARGUMENT', 'query.rerank must be true or false');
      if (rerank && !this.#reranker) throw codedError('BAD_ARGUMENT', 'rerank: true needs a reranker: pass { reranker } when creating or loading the Retriever');
      if (rerank && method === 'text') throw codedError('BAD_ARGUMENT', "rerank: true needs the multimodal method, not 'text'");
      if (!['auto', 'multimodal', 'text'].includes(method)) throw codedError('BAD_ARGUMENT', `method ${JSON.stringify(method)}: expected auto, multimodal or text`);
      if (method === 'text' || (method === 'auto' && !this.#embedder && !rerank)) {
        if (method === 'auto' && !this.#warned) {
          this.#warned = true;
          console.warn('qwen3-vl-embed: no embedder loaded, retrieving by text (TF-IDF) instead');
        }
        return this.#live().retrieveText(rest);
      }
      const screenshot = rest.screenshot == null ? rest.screenshot : await env.normalizeImage(rest.screenshot);
      const embedder = env.wasmOf(this.#needEmbedder('multimodal retrieval'));
      if (rerank) {
        const screenshotOf = async (demoId, path) => env.normalizeImage(await this.#screenshots({ demoId, path }));
        return this.#live().retrieveReranked(embedder, env.rerankerWasmOf(this.#reranker), { ...rest, screenshot }, screenshotOf);
      }
      return this.#live().retrieve(embedder, { ...rest, screenshot });
    }

    /** `{ hits, misses, size, capacity }` of the in-memory query-embedding cache. */
    get queryCacheStats() {
      return this.#live().queryCacheStats;
    }

    /** The library as one packed file: `qwen3-vl-embed unpack` makes it an index directory. */
    toBytes() {
      return this.#live().toPacked();
    }

    /** The library's files by name (`{ "manifest.json": Uint8Array, ... }`): written into a directory, the CLI reads it. */
    toFiles() {
      return this.#live().toFiles();
    }

    dispose() {
      this.#wasm?.free();
      this.#wasm = null;
    }

    #needEmbedder(what) {
      if (!this.#embedder) throw codedError('BAD_ARGUMENT', `${what} needs a model: pass { embedder }`);
      return this.#embedder;
    }

    #live() {
      if (!this.#wasm) throw codedError('DISPOSED', 'this Retriever was disposed');
      return this.#wasm;
    }
  };
}
