// `Retriever`: the JavaScript twin of the Rust `demo_retriever::DemoRetriever`. Demos (a goal,
// a screenshot, app and site) are embedded with one instruction; a query scores every demo by
// cosine similarity, adds a bonus when its app / domain context matches the demo's, and sorts
// by that score, ties broken by demo id. Same defaults and rules as the Rust crate and the CLI.

import { codedError } from './errors.js';

export const DEFAULT_INSTRUCTION = "Retrieve the GUI demonstration that shows how to complete the user's task.";
const MAGIC = 'qwen3-vl-embed/retriever@1';
const MACOS_APPS = ['finder', 'safari', 'system settings', 'system preferences', 'xcode', 'terminal', 'notes', 'mail',
  'calendar', 'preview', 'keynote', 'pages', 'numbers'];
const WINDOWS_APPS = ['explorer', 'notepad', 'control panel', 'settings (windows)', 'microsoft edge', 'paint'];

/** Lower-case, trimmed, a leading `www.` removed: the form domains are stored and compared in. */
export function normalizeDomain(domain) {
  const d = String(domain).trim().toLowerCase();
  return d.startsWith('www.') ? d.slice(4) : d;
}

/** The host of an http(s) URL (no port, user info or `www.`), or null. */
export function hostOf(url) {
  const m = /^\s*(https?):\/\/([^/?#]*)/i.exec(String(url ?? ''));
  if (!m) return null;
  const host = m[2].split('@').pop().split(':')[0].toLowerCase();
  return host ? normalizeDomain(host) : null;
}

/** `web` when the first step has an http(s) URL, else `macos` / `windows` by app name, else `unknown`. */
export function platformOf(firstUrl, appName) {
  if (hostOf(firstUrl)) return 'web';
  const app = String(appName ?? '').trim().toLowerCase();
  if (app.endsWith('.app') || MACOS_APPS.includes(app)) return 'macos';
  if (app.endsWith('.exe') || WINDOWS_APPS.includes(app)) return 'windows';
  return 'unknown';
}

/**
 * A demo from a seed episode (`{ episode_id, instruction, steps: [{ observation: { app_name,
 * url, screenshot_path } }] }`); top-level `app_name`, `domain`, `platform`, `tags` and
 * `metadata` override what is derived. The screenshot is passed separately (bytes, a Blob,
 * a canvas ...), since a browser cannot read `screenshot_path`.
 */
export function demoFromEpisode(episode, screenshot = null) {
  if (!episode || typeof episode !== 'object') throw codedError('BAD_ARGUMENT', 'an episode must be an object');
  const first = episode.steps?.[0]?.observation ?? {};
  const appName = episode.app_name ?? first.app_name ?? null;
  const url = (episode.steps ?? []).map((s) => s?.observation?.url).find((u) => hostOf(u));
  return {
    id: String(episode.episode_id ?? ''),
    goal: episode.instruction ?? '',
    screenshot,
    appName,
    domain: episode.domain != null ? normalizeDomain(episode.domain) : hostOf(url),
    platform: episode.platform ?? platformOf(first.url, appName),
    tags: episode.tags ?? [],
    metadata: episode.metadata ?? null,
  };
}

function checkId(id) {
  if (typeof id !== 'string' || !id || id.length > 200 || id.startsWith('.') || !/^[A-Za-z0-9\-_.@+]+$/.test(id)) {
    throw codedError('BAD_ID', `demo id ${JSON.stringify(id)}: 1 to 200 of A-Z a-z 0-9 - _ . @ +, not starting with '.'`);
  }
}

// The seed's context rules, as crates/demo-retriever/src/score.rs applies them: the app context
// contained in the app name (case-insensitive); the domain context a run of whole labels of the
// demo's domain (`google.com` matches `mail.google.com`, `oogle.com` does not).
const matchesApp = (context, app) => Boolean(context?.trim() && app && app.toLowerCase().includes(context.trim().toLowerCase()));
const matchesDomain = (context, domain) => {
  const [c, d] = [normalizeDomain(context ?? ''), normalizeDomain(domain ?? '')];
  return Boolean(c && d && `.${d}.`.includes(`.${c}.`));
};

/** Builds the class against the package's `Index` (passed in to avoid an import cycle). */
export function makeRetriever(Index) {
  return class Retriever {
    #embedder;
    #index;
    #demos = new Map(); // id -> demo without its screenshot once embedded
    #pending = new Map(); // id -> demo with its screenshot, not embedded yet

    /** Use `Retriever.create`. */
    constructor(embedder, settings, index) {
      this.#embedder = embedder;
      this.settings = settings;
      this.#index = index;
    }

    /**
     * `{ embedder, model, dim, instruction, bonuses: { app, domain } }`; `dim` defaults to 512
     * capped at the model's width, bonuses to 0.1 each.
     */
    static async create({ embedder, model = 'Qwen3-VL-Embedding', dim, instruction = DEFAULT_INSTRUCTION, bonuses = {} } = {}) {
      if (!embedder) throw codedError('BAD_ARGUMENT', 'Retriever.create needs { embedder }');
      dim ??= Math.min(512, embedder.dimensions);
      if (!Number.isInteger(dim) || dim <= 0 || dim > embedder.dimensions) {
        throw codedError('BAD_DIMENSION', `dim ${dim}: expected 1..${embedder.dimensions}`);
      }
      const settings = { model, dim, instruction, bonuses: { app: bonuses.app ?? 0.1, domain: bonuses.domain ?? 0.1 } };
      return new Retriever(embedder, settings, await Index.create({ model, dim, strategy: 'exact' }));
    }

    /** Adds or replaces a demo `{ id, goal, screenshot, appName, domain, platform, tags, metadata }`; embedded by `buildIndex`. */
    addDemo(demo) {
      checkId(demo?.id);
      if (!demo.goal?.trim() && demo.screenshot == null) throw codedError('EMPTY_INPUT', `demo ${demo.id} has neither a goal nor a screenshot`);
      const stored = { ...demo, domain: demo.domain != null ? normalizeDomain(demo.domain) : null, appName: demo.appName ?? null };
      this.#pending.set(demo.id, stored);
      return this;
    }

    /** Adds a seed episode (see `demoFromEpisode`). */
    addEpisode(episode, screenshot = null) {
      return this.addDemo(demoFromEpisode(episode, screenshot));
    }

    /** Removes a demo; false when there was none. */
    remove(id) {
      const had = this.#pending.delete(id) | this.#demos.has(id);
      if (this.#demos.delete(id)) this.#index.remove(id);
      return Boolean(had);
    }

    get size() {
      return this.#demos.size + [...this.#pending.keys()].filter((id) => !this.#demos.has(id)).length;
    }
    /** Demos added since the last `buildIndex`. */
    get pending() {
      return this.#pending.size;
    }
    demo(id) {
      return this.#pending.get(id) ?? this.#demos.get(id) ?? null;
    }

    /** Embeds the pending demos, `batchSize` per model call; `onProgress({ done, total })` after each batch. */
    async buildIndex({ batchSize = 8, onProgress } = {}) {
      const todo = [...this.#pending.values()];
      const { dim, instruction } = this.settings;
      for (let at = 0; at < todo.length; at += batchSize) {
        const batch = todo.slice(at, at + batchSize);
        const inputs = batch.map((d) => ({ text: d.goal || null, image: d.screenshot ?? null, instruction }));
        const vectors = await this.#embedder.embedBatch(inputs, { dim });
        batch.forEach((d, i) => {
          const { screenshot, ...kept } = d;
          if (this.#demos.has(d.id)) this.#index.remove(d.id);
          this.#index.add(d.id, vectors[i], null);
          this.#demos.set(d.id, kept);
          this.#pending.delete(d.id);
        });
        onProgress?.({ done: Math.min(at + batchSize, todo.length), total: todo.length });
      }
      return { embedded: todo.length };
    }

    /**
     * `{ task, screenshot, topK = 5, app, domain, instruction }` -> `[{ rank, demoId, score,
     * embeddingScore, demo }]`, best first. `score` = cosine + bonuses.
     */
    async retrieve({ task, screenshot, topK = 5, app, domain, instruction } = {}) {
      if (this.#pending.size) throw codedError('NOT_BUILT', `${this.#pending.size} demos are not embedded yet: call buildIndex()`);
      const text = task?.trim() ? task : null;
      if (!text && screenshot == null) throw codedError('EMPTY_INPUT', 'a query needs a task or a screenshot');
      if (topK <= 0 || !this.#demos.size) return [];
      const { dim, bonuses } = this.settings;
      const query = await this.#embedder.embed({ text, image: screenshot ?? null, instruction: instruction ?? this.settings.instruction, dim });
      return this.#index
        .search(query, this.#demos.size)
        .map(({ id, score }) => {
          const d = this.#demos.get(id);
          const bonus = (matchesApp(app, d.appName) ? bonuses.app : 0) + (matchesDomain(domain, d.domain) ? bonuses.domain : 0);
          return { demoId: id, score: score + bonus, embeddingScore: score, demo: d };
        })
        .sort((a, b) => b.score - a.score || (a.demoId < b.demoId ? -1 : a.demoId > b.demoId ? 1 : 0))
        .slice(0, topK)
        .map((r, i) => ({ rank: i + 1, ...r }));
    }

    /** Settings, demos (without screenshots) and vectors in one buffer; pending demos are not saved. */
    toBytes() {
      const head = new TextEncoder().encode(JSON.stringify({ magic: MAGIC, settings: this.settings, demos: [...this.#demos.values()] }));
      const index = this.#index.toBytes();
      const out = new Uint8Array(4 + head.length + index.length);
      new DataView(out.buffer).setUint32(0, head.length, true);
      out.set(head, 4);
      out.set(index, 4 + head.length);
      return out;
    }

    /** Reads `toBytes()`; `embedder` must be the model the demos were embedded with. */
    static async fromBytes(bytes, { embedder } = {}) {
      if (!embedder) throw codedError('BAD_ARGUMENT', 'Retriever.fromBytes needs { embedder }');
      const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      let head;
      try {
        const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0, true);
        head = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + n)));
        head.indexBytes = buf.subarray(4 + n);
      } catch (e) {
        throw codedError('CORRUPT_INDEX', `not a Retriever buffer: ${e.message}`, e);
      }
      if (head.magic !== MAGIC) throw codedError('CORRUPT_INDEX', 'not a Retriever buffer');
      const index = await Index.fromBytes(head.indexBytes);
      if (index.dim !== head.settings.dim || index.size !== head.demos.length) throw codedError('CORRUPT_INDEX', 'demos and vectors disagree');
      const r = new Retriever(embedder, head.settings, index);
      for (const d of head.demos) r.#demos.set(d.id, d);
      return r;
    }

    dispose() {
      this.#index?.dispose();
      this.#index = null;
    }
  };
}
