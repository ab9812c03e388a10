// The cross-target check's reference, computed in the same run: the CLI (the native build of
// the same Rust retriever) indexes the sample library with the tiny model, packs it, and
// answers the sample queries; Node and Chromium load that library (directory URL, packed file,
// bytes) and must answer with the same ids, in the same order, with scores within 1e-6.
// QWEN3_VL_CLI names the binary (npm/scripts/test-all.sh sets it when the workspace build
// made one); without it these tests are skipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FIXTURES, MODEL_DIR } from './helpers.js';

export const CLI = process.env.QWEN3_VL_CLI || null;
export const LIBRARY = join(FIXTURES, 'demo-library');
export const SCORE_TOLERANCE = 1e-6;

/** Runs the CLI; returns stdout. */
export function cli(args) {
  return execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The sample queries (`queries.jsonl`) as the npm package spells them, screenshot paths kept. */
export function sampleQueries() {
  return readFileSync(join(LIBRARY, 'queries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
    .map(({ task, screenshot, app, domain }) => ({ task, screenshot, app, domain, topK: 5 }));
}

/** The CLI's answer to one query on the index directory `index` (`extra`: more flags): `[{ demoId, score }]`. */
export function cliAnswer(index, q, extra = []) {
  const args = ['query', index, '--json', '--device', 'cpu', '--top-k', String(q.topK), ...extra];
  if (q.task) args.push('--text', q.task);
  if (q.screenshot) args.push('--image', join(LIBRARY, q.screenshot));
  if (q.app) args.push('--app', q.app);
  if (q.domain) args.push('--domain', q.domain);
  return JSON.parse(cli(args)).results.map((r) => ({ demoId: r.demo_id, score: r.score }));
}

/**
 * Indexes the sample library with the CLI, packs it and records the CLI's answers:
 * `{ dir, index, packed, answers }`. With QWEN3_VL_CROSS_DIR (npm/scripts/test-all.sh sets a
 * fresh one per run) the Node and Chromium tests share one such library, made by whichever
 * runs first, so the CLI runs once per suite run.
 */
export function cliLibrary() {
  const shared = process.env.QWEN3_VL_CROSS_DIR;
  const dir = shared ?? mkdtempSync(join(tmpdir(), 'qwen3-vl-cli-library-'));
  const [index, packed, answersFile] = ['index', 'library.qvl', 'answers.json'].map((f) => join(dir, f));
  if (!existsSync(answersFile)) {
    mkdirSync(dir, { recursive: true });
    cli(['index', join(LIBRARY, 'episodes'), '--out', index, '--model', MODEL_DIR, '--device', 'cpu']);
    cli(['pack', index, '--out', packed]);
    writeFileSync(answersFile, JSON.stringify(sampleQueries().map((q) => cliAnswer(index, q))));
  }
  return { dir, shared: Boolean(shared), index, packed, answers: JSON.parse(readFileSync(answersFile, 'utf8')) };
}

/** The sample episodes with their screenshots' bytes: `[[episode, bytes | null]]`. */
export function sampleEpisodes() {
  const episodes = join(LIBRARY, 'episodes');
  return readdirSync(episodes)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const episode = JSON.parse(readFileSync(join(episodes, f), 'utf8'));
      const shot = episode.steps?.[0]?.observation?.screenshot_path;
      return [episode, shot ? new Uint8Array(readFileSync(join(dirname(join(episodes, f)), shot))) : null];
    });
}

/** Asserts one answer equals the reference: same ids in the same order, scores within 1e-6. */
export function assertSameAnswer(got, want, what) {
  assert.deepEqual(got.map((r) => r.demoId), want.map((r) => r.demoId), `${what}: ids`);
  got.forEach((r, i) => {
    const diff = Math.abs(r.score - want[i].score);
    assert.ok(diff <= SCORE_TOLERANCE, `${what}: ${r.demoId} score ${r.score} vs ${want[i].score} (diff ${diff})`);
  });
}

/** The largest score difference between two lists of answers (for the report). */
export function worstScoreDiff(got, want) {
  return Math.max(0, ...got.flatMap((answer, i) => answer.map((r, j) => Math.abs(r.score - want[i][j].score))));
}
