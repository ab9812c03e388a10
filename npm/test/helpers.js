// Shared by the Node and browser tests: reference fixtures (cases.json + safetensors).
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const FIXTURES = process.env.QWEN3_VL_FIXTURES ?? new URL('../../tests/fixtures/', import.meta.url).pathname;
export const MODEL_DIR = join(FIXTURES, 'models', 'tiny-embedding');

/** Bytes free for this user on the file system of `dir` (-1 when it cannot be read). */
export function freeBytes(dir) {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return -1;
  }
}

/**
 * Of the system's temporary folder and /dev/shm (Linux's RAM disk), the one with more free
 * space: for a Chromium profile whose Cache API a test checks. Chromium refuses to store a
 * downloaded response in the Cache API ("Cache.put() encountered a network error") while the
 * profile's disk is nearly full: seen in CI, and here with 0.5 GB free (an extension page
 * putting a fetched 20 MB response), while the same put passed with the profile on /dev/shm.
 */
export function roomiestTmpdir() {
  return [tmpdir(), '/dev/shm'].reduce((best, dir) => (freeBytes(dir) > freeBytes(best) ? dir : best));
}

/** Reads one tensor of a safetensors file: 8-byte LE header length, JSON header, data. */
export function readSafetensor(path, name) {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  const info = header[name];
  if (!info) return null;
  if (info.dtype !== 'F32') throw new Error(`${name}: expected F32, found ${info.dtype}`);
  const [start, end] = info.data_offsets;
  const bytes = buf.subarray(8 + headerLen + start, 8 + headerLen + end);
  return { shape: info.shape, values: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}

/** The reference cases; `only` (comma-separated names) picks some, e.g. for slow devices. */
export function cases(only = process.env.QWEN3_VL_CASES) {
  const all = JSON.parse(readFileSync(join(FIXTURES, 'reference', 'cases.json'), 'utf8'));
  const names = only ? only.split(',') : null;
  return names ? all.filter((c) => names.includes(c.name)) : all;
}

/**
 * The representative cases a software GPU (SwiftShader) runs by default, as a comma-separated
 * list: `tests/fixtures/reference/software_gpu_cases.txt`, the one list the Rust tests read too.
 */
export function softwareGpuCases() {
  const text = readFileSync(join(FIXTURES, 'reference', 'software_gpu_cases.txt'), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).join(',');
}

/** The package's input objects for one reference case (images as encoded bytes). */
export function caseInputs(c) {
  return c.inputs.map((i) => ({
    text: i.text,
    instruction: i.instruction,
    images: i.images.map((p) => new Uint8Array(readFileSync(join(FIXTURES, p)))),
  }));
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** One bound for every case: JPEG is decoded exactly as Pillow does, like the other formats. */
export const tolerance = () => 1e-4;

/** The reference embeds "NULL" for an empty input; we refuse it (EMPTY_INPUT). */
export const isEmptyCase = (c) => c.inputs.some((i) => !i.images.length && !(i.text ?? '').trim());
