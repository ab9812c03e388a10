// Node's model files: a file on disk is handed to the wasm side as a synchronous reader
// (`{ size, read(offset, length) }`, one tensor at a time through `fs.readSync`), so a weight
// file never sits whole in JS memory; a URL is downloaded once into a cache directory (resumed
// from its `.part` file after an interruption) and then read the same way.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { codedError } from './errors.js';
import { fetchOk } from './load.js';

/**
 * Where downloads are kept: `cacheDir`, else $QWEN3_VL_CACHE_DIR, else
 * $XDG_CACHE_HOME/qwen3-vl-embed (default ~/.cache/qwen3-vl-embed).
 */
export function cacheDirectory(cacheDir) {
  return cacheDir ?? process.env.QWEN3_VL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'qwen3-vl-embed');
}

/** The cache file of a URL: a hash of the whole URL (revision included) and its file name. */
export function cachePath(dir, url) {
  const hash = createHash('sha256').update(String(url)).digest('hex').slice(0, 24);
  const name = basename(new URL(url).pathname).replace(/[^A-Za-z0-9._-]/g, '_') || 'file';
  return join(dir, `${hash}-${name}`);
}

/** A synchronous reader of `path` for the wasm side: each call opens, reads and closes. */
export function fileReader(path) {
  const { size } = statSync(path);
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      const fd = openSync(path, 'r');
      try {
        for (let done = 0; done < length; ) {
          const n = readSync(fd, out, done, length - done, offset + done);
          if (n === 0) throw new Error(`${path} ended at byte ${offset + done} (expected ${offset + length})`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
      return out;
    },
  };
}

/**
 * Downloads `url` into the cache directory unless it is there already; returns the cached
 * file's path. A `.part` file left by an interrupted download is resumed with a Range
 * request (or restarted when the server ignores it); the file is renamed into place only
 * once complete, so the cache never holds a truncated file under its final name.
 */
export async function cachedDownload(url, { cacheDir, onProgress, file = String(url) } = {}) {
  const dir = cacheDirectory(cacheDir);
  const path = cachePath(dir, url);
  if (existsSync(path)) {
    const { size } = statSync(path);
    onProgress?.({ phase: 'download', file, loaded: size, total: size, fromCache: true });
    return path;
  }
  await mkdir(dir, { recursive: true }).catch((e) => {
    throw codedError('MODEL_SOURCE', `cannot create the cache directory ${dir}: ${e.message}`, e);
  });
  const part = `${path}.part`;
  let have = (await stat(part).catch(() => null))?.size ?? 0;
  const response = await fetchOk(url, have ? { headers: { range: `bytes=${have}-` } } : {});
  if (have && response.status !== 206) have = 0; // no range support: start over
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && response.headers.has('content-length') ? have + length : undefined;
  const out = await open(part, have ? 'a' : 'w');
  let loaded = have;
  try {
    for await (const chunk of response.body) {
      await out.write(chunk);
      loaded += chunk.length;
      onProgress?.({ phase: 'download', file, loaded, total, fromCache: false, resumedFrom: have || undefined });
    }
    await out.sync();
  } catch (e) {
    throw codedError('MODEL_SOURCE', `download of ${url} stopped at byte ${loaded} (kept in ${part}; the next load resumes it): ${e.message}`, e);
  } finally {
    await out.close();
  }
  if (total !== undefined && loaded !== total) {
    throw codedError('MODEL_SOURCE', `download of ${url} ended at byte ${loaded} of ${total} (kept in ${part}; the next load resumes it)`);
  }
  await rename(part, path);
  return path;
}

/** `path` as the loader wants it: a reader for weights (`pieces`), else its bytes. */
export async function readLocal(path, { pieces = false, onProgress, file = path, fromCache = false } = {}) {
  const reader = fileReader(path);
  // readFile stops at 2 GiB; a larger file (a packed library, say) is read in one synchronous call.
  if (!pieces) return reader.size < 2 ** 31 ? new Uint8Array(await readFile(path)) : reader.read(0, reader.size);
  if (!fromCache) onProgress?.({ phase: 'download', file, loaded: reader.size, total: reader.size, fromCache: false });
  return reader;
}
