// Type declarations for qwen3-vl-embed (browser and Node entry points export the same API).

/** Every error thrown by this package is an `Error` with one of these codes. */
export type ErrorCode =
  | 'BAD_ARGUMENT' | 'NOT_INITIALIZED' | 'DISPOSED'
  | 'UNKNOWN_DEVICE' | 'DEVICE_INIT' | 'DEVICE' | 'UNSUPPORTED_DTYPE'
  | 'MODEL_SOURCE' | 'BAD_MODEL' | 'BAD_TOKENIZER'
  | 'EMPTY_INPUT' | 'BAD_DIMENSION' | 'INPUT_TOO_LONG'
  | 'BAD_IMAGE' | 'BAD_IMAGE_SIZE' | 'IMAGE_TOO_LARGE' | 'PREPROCESS'
  | 'BAD_VECTOR' | 'BAD_ID' | 'UNKNOWN_ID' | 'CORRUPT_INDEX' | 'INDEX' | 'NOT_BUILT' | 'BAD_DEMO';

export interface CodedError extends Error {
  code: ErrorCode;
}

/** Encoded bytes (PNG, JPEG, WebP, GIF), RGBA pixels, or (browser) anything drawable. */
export type ImageInput =
  | Uint8Array
  | ArrayBuffer
  | Blob
  | { data: Uint8ClampedArray | Uint8Array; width: number; height: number } // ImageData
  | ImageBitmap
  | OffscreenCanvas
  | HTMLCanvasElement
  | HTMLImageElement;

export interface EmbedInput {
  text?: string | null;
  image?: ImageInput | null;
  /** Several images, placed before the text. */
  images?: ImageInput[];
  /** Task instruction for the system turn (default "Represent the user's input."). */
  instruction?: string | null;
  /** Matryoshka width: keep the first `dim` values, then L2-normalise (default: all). */
  dim?: number;
}

export type FileSource = URL | Blob | ArrayBuffer | Uint8Array;

/**
 * `download`: bytes of one file fetched (or read from disk / the cache);
 * `load`: bytes of weight tensors converted and uploaded to the device (file: "weights"),
 * reported after every tensor; `loaded === total` when the model is ready.
 */
export interface ProgressEvent {
  phase: 'download' | 'load';
  file: string;
  loaded: number;
  total?: number;
  fromCache?: boolean;
  /** Node: the byte a resumed download continued from. */
  resumedFrom?: number;
}

export interface LoadOptions {
  /**
   * A directory URL (Node: also a path) with config.json, tokenizer.json and weights, and
   * qwen3-vl-embed-format.json for a converted directory (`qwen3-vl-embed convert`).
   */
  modelUrl?: string | URL;
  /** A Hugging Face Hub id (`owner/name`) instead of `modelUrl`: files come from `{hubUrl}/{modelId}/resolve/{revision}/`. */
  modelId?: string;
  /** Branch, tag or commit of `modelId` (default "main"; a commit pins what the cache keeps). */
  revision?: string;
  /** The Hub's address (default https://huggingface.co; a mirror or a test server). */
  hubUrl?: string | URL;
  files?: {
    config: string | FileSource;
    tokenizer: FileSource;
    /**
     * model.safetensors, or every shard; `{ name, data }` to name a buffer, where `data` may
     * also be the file's consecutive pieces (`Uint8Array[]`, e.g. a download's chunks).
     * Weights stay in JS memory and are read one tensor at a time (never copied whole into
     * wasm memory), so files larger than wasm32's 4 GiB load.
     */
    weights: FileSource | Array<FileSource | { name: string; data: FileSource | Uint8Array[] }>;
    /** A converted directory's qwen3-vl-embed-format.json (its precision is the default dtype). */
    format?: string | FileSource;
  };
  /** Default "auto": WebGPU when an adapter exists, else the CPU. */
  device?: 'webgpu' | 'cpu' | 'auto';
  /**
   * Default: a converted directory's own precision (`qwen3-vl-embed convert`), else "f32".
   * "f16": weights and compute in f16, on a WebGPU adapter with shader-f16.
   * "bf16": linear weights in bf16, f32 compute, CPU only (the same vectors as f32 for bf16
   * checkpoints, half the weight memory). "int8": linear weights in int8 with one scale per 32
   * values, f32 compute, every device (a quarter of the weight memory; cosine >= 0.999 to f32
   * on the test fixtures). "q4": linear weights in 4 bits with one f16 scale per 32 values and
   * the token table in int8, f32 compute, every device (the CPU path: SIMD128 kernels, a sixth
   * of the f32 weight memory, on WebGPU too (expanded at each product); cosine >= 0.99 to f32 on
   * the test fixtures). A dtype the device cannot hold fails with UNSUPPORTED_DTYPE; a
   * converted directory loads only in its own precision, on either device.
   */
  dtype?: 'f32' | 'f16' | 'bf16' | 'int8' | 'q4';
  /** Most inputs per forward pass in embedBatch (default 8). */
  batchSize?: number;
  /**
   * Most padded tokens per forward pass in embedBatch (inputs x the longest; default 1024): a
   * pass's memory grows with its tokens, so screenshots (hundreds of tokens each) run fewer to a
   * pass than text queries. An input longer than this runs alone.
   */
  maxBatchTokens?: number;
  /** Longest token sequence (default 8192). */
  maxLength?: number;
  /**
   * Keep model downloads (default true): in the Cache API in browsers, in `cacheDir` in Node
   * (an interrupted download resumes from its `.part` file). Keyed by URL.
   */
  cache?: boolean;
  /** Node: the download cache (default $QWEN3_VL_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, /qwen3-vl-embed). */
  cacheDir?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Bytes of wasm linear memory (where the CPU path keeps weights and activations; WebGPU
 * weights live in device memory). wasm memory never shrinks: this is also the peak so far.
 */
export declare function wasmMemoryBytes(): number;

export declare class Embedder {
  private constructor();
  static load(options: LoadOptions): Promise<Embedder>;
  readonly device: 'webgpu' | 'cpu';
  /** The full embedding width. */
  readonly dimensions: number;
  embed(input: EmbedInput | string): Promise<Float32Array>;
  embedBatch(inputs: Array<EmbedInput | string>, options?: { dim?: number }): Promise<Float32Array[]>;
  dispose(): void;
}

/** Qwen3-VL-Reranker: how well each document answers a query, in [0, 1]. Computes in f32. */
export declare class Reranker {
  private constructor();
  /** `modelUrl` or `files`, `device`, `cache`, `onProgress` as for `Embedder.load` (no `dtype` but f32). */
  static load(options: LoadOptions): Promise<Reranker>;
  readonly device: 'webgpu' | 'cpu';
  /** One score per document, in order; `instruction` replaces the reranker's default. */
  score(query: EmbedInput | string, documents: Array<EmbedInput | string>, options?: { instruction?: string }): Promise<Float32Array>;
  dispose(): void;
}

export interface IndexOptions {
  /** Name of the embedding model the vectors come from. */
  model?: string;
  dim: number;
  strategy?: 'auto' | 'exact' | 'hnsw';
}

export interface SearchHit<M = unknown> {
  id: string;
  /** Cosine similarity. */
  score: number;
  metadata: M;
}

export declare class Index<M = unknown> {
  /** Needs `await init()` first; `Index.create` does that. */
  constructor(options: IndexOptions);
  static create<M = unknown>(options: IndexOptions): Promise<Index<M>>;
  static fromBytes<M = unknown>(bytes: Uint8Array | ArrayBuffer): Promise<Index<M>>;
  add(id: string, vector: Float32Array | number[], metadata?: M): void;
  remove(id: string): void;
  has(id: string): boolean;
  get(id: string): { id: string; vector: Float32Array; metadata: M };
  /**
   * The `k` nearest items, best first. `filter`: only items whose metadata field equals the
   * value (strings ignoring ASCII case; an array field needs one equal element), every field at
   * once; applied inside the search, so `k` items come back whenever that many match.
   */
  search(query: Float32Array | number[], k?: number, filter?: Record<string, unknown>): SearchHit<M>[];
  readonly size: number;
  readonly dim: number;
  readonly model: string;
  ids(): string[];
  toBytes(): Uint8Array;
  toNpy(): Uint8Array;
  toJSON(): { model: string; dim: number; createdAt: string; items: Array<{ id: string; metadata: M }> };
  dispose(): void;
}

export interface Demo {
  /** 1 to 200 of A-Z a-z 0-9 - _ . @ +, not starting with '.'. */
  id: string;
  /** The task the demo completes. */
  goal: string;
  /** Embedded with the goal; dropped from memory once embedded. */
  screenshot?: ImageInput | null;
  appName?: string | null;
  /** Stored lower-case without `www.`. */
  domain?: string | null;
  platform?: string;
  tags?: string[];
  metadata?: unknown;
}

export interface RetrievalResult {
  /** 1-based. */
  rank: number;
  demoId: string;
  /** embeddingScore (text method: the TF-IDF cosine) + app bonus + domain bonus. */
  score: number;
  /** Cosine similarity of query and demo. */
  embeddingScore: number;
  /** The reranker's score when reranked (`rerank: true`; then `score` is it + bonuses), else null. */
  rerankScore: number | null;
  demo: Omit<Demo, 'screenshot'>;
}

/** Models and session options a Retriever may be given when it is created or loaded. */
export interface RetrieverModels {
  embedder?: Embedder;
  /** Makes `retrieve({ rerank: true })` possible. */
  reranker?: Reranker;
  /** Query embeddings kept in memory (an LRU keyed by model, dim, instruction, text and image hashes); default 256, 0 turns it off. */
  queryCache?: number;
  /**
   * A demo's screenshot for the reranker when the retriever does not hold it in memory (a
   * loaded library keeps only its episodes' `screenshot_path`s): image bytes, or a Promise of
   * them. Default: read `path` (a file in Node, a URL relative to the page in a browser).
   */
  screenshots?: (demo: { demoId: string; path: string }) => ImageInput | Promise<ImageInput>;
}

export interface RetrieverOptions extends RetrieverModels {
  embedder: Embedder;
  /** Names the embedding model; the CLI loads it (a Hub id or a model directory) to query a library saved here. */
  model?: string;
  /** Matryoshka width, 64 up to the model's width (default 512, capped at the width); else BAD_DIMENSION. */
  dim?: number;
  /** Instruction for demos and for queries that give none (default DEFAULT_INSTRUCTION). */
  instruction?: string;
  bonuses?: { app?: number; domain?: number };
  /** Candidates a reranker rescores (default 20, the seed's); saved with the library for the CLI. */
  rerankTopN?: number;
  /** How searches run: 'exact', 'hnsw' (a graph at any size) or 'auto' (default: hnsw from 10,000 demos). */
  strategy?: 'auto' | 'exact' | 'hnsw';
}

/**
 * The Rust `DemoRetriever` (the CLI's) compiled to wasm: embed demos, rank them for a task or
 * screen with the CLI's rules and scores, and read and write the CLI's library format.
 */
export declare class Retriever {
  private constructor();
  static create(options: RetrieverOptions): Promise<Retriever>;
  /**
   * A library saved by the CLI (`index`, `add`) or `toFiles`: a directory URL ending in `/`
   * (Node: also a directory path), or the URL / path of a packed file (`qwen3-vl-embed pack`,
   * `toBytes`). Without `embedder`, `retrieve` ranks by text.
   */
  static load(source: string | URL, options?: RetrieverModels & { cache?: boolean; onProgress?: (event: ProgressEvent) => void }): Promise<Retriever>;
  /** A packed library (`qwen3-vl-embed pack`, `toBytes`). */
  static fromBytes(bytes: Uint8Array | ArrayBuffer, options?: RetrieverModels): Promise<Retriever>;
  /** A library from its files by name (`toFiles`, or an index directory's files). */
  static fromFiles(files: Record<string, Uint8Array>, options?: RetrieverModels): Promise<Retriever>;
  readonly settings: { model: string; dim: number; instruction: string; bonuses: { app: number; domain: number }; rerankTopN: number; strategy: 'auto' | 'exact' | 'hnsw' };
  addDemo(demo: Demo): this;
  /** A seed episode `{ episode_id, instruction, steps: [{ observation: { app_name, url } }] }`. */
  addEpisode(episode: object, screenshot?: ImageInput | null): this;
  remove(id: string): boolean;
  demo(id: string): Omit<Demo, 'screenshot'> | null;
  readonly size: number;
  /** Demos added since the last buildIndex. */
  readonly pending: number;
  buildIndex(options?: { batchSize?: number; onProgress?: (p: { done: number; total: number }) => void }): Promise<{ embedded: number }>;
  retrieve(query: {
    task?: string | null;
    screenshot?: ImageInput | null;
    topK?: number;
    app?: string;
    domain?: string;
    instruction?: string;
    /** 'auto' (default): the model when there is an embedder, else 'text' with a console warning. */
    method?: 'auto' | 'multimodal' | 'text';
    /** Rescore the best `rerankTopN` candidates with the reranker (needs `reranker` and the model). */
    rerank?: boolean;
  }): Promise<RetrievalResult[]>;
  /** The query-embedding cache so far. */
  readonly queryCacheStats: { hits: number; misses: number; size: number; capacity: number };
  /** The library as one packed file (`qwen3-vl-embed unpack` makes it an index directory). */
  toBytes(): Uint8Array;
  /** The library's files by name; written into a directory, the CLI reads it as an index. */
  toFiles(): Record<string, Uint8Array>;
  dispose(): void;
}

export declare const DEFAULT_INSTRUCTION: string;
/** The crate's rules, so these need `await init()` (or any async API) first. */
export declare function demoFromEpisode(episode: object, screenshot?: ImageInput | null): Demo;
export declare function hostOf(url: string): string | null;
export declare function normalizeDomain(domain: string): string;
export declare function platformOf(firstUrl: string | null | undefined, appName: string | null | undefined): string;

/** Instantiates the wasm module; the async APIs call it for you. */
export declare function init(): Promise<void>;
export declare const CACHE_NAME: string;
export declare function codedError(code: ErrorCode, message: string, cause?: unknown): CodedError;
export declare function fetchBytes(
  url: string | URL,
  options?: { cache?: boolean; onProgress?: (e: ProgressEvent) => void; file?: string; pieces?: false },
): Promise<Uint8Array>;
/** With `pieces: true`: the file as the stream delivered it, never concatenated. */
export declare function fetchBytes(
  url: string | URL,
  options: { cache?: boolean; onProgress?: (e: ProgressEvent) => void; file?: string; pieces: true },
): Promise<Uint8Array[]>;
