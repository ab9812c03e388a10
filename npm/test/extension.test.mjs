// The example extension (web/extension/) loaded unpacked in headless Chromium: its popup has
// the model loaded in the offscreen document (kept between popups), adds screens as demos,
// keeps them across a reload (chrome.storage.local) and finds the demo for a screen. The extension is copied to a temporary folder with vendor/ (the
// package's dist/: QWEN3_VL_PACKAGE_DIR, default npm/) and model/ (the tiny test model).
//
// A test cannot click the extension's action, and only that click grants `activeTab`, without
// which `chrome.tabs.captureVisibleTab` refuses. So the popup is opened as a tab, and an init
// script (run before popup.js) replaces `captureVisibleTab` and `tabs.query` with stand-ins
// that return a Playwright screenshot of a normal page showing a fixture image. The extension
// itself has no test hook; one popup without the stand-ins checks that the refusal is shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { FIXTURES, MODEL_DIR, freeBytes, roomiestTmpdir } from './helpers.js';

const SOURCE = fileURLToPath(new URL('../../web/extension/', import.meta.url));
const PACKAGE_DIR = process.env.QWEN3_VL_PACKAGE_DIR ?? fileURLToPath(new URL('..', import.meta.url));
const WAIT = { timeout: 120_000 };

/** Three "screens": a page showing a fixture image under a heading, and the demo's title. */
const SCREENS = [
  { image: 'rgb_64x48.png', title: 'Open the settings' },
  { image: 'wide_176x96.png', title: 'Export a report' },
  { image: 'palette_72x72.png', title: 'Invite a teammate' },
];

let tmp, dir, context, id;
const problems = []; // console errors and uncaught exceptions of every page

/**
 * Chromium's id for an unpacked extension: the SHA-256 of its absolute path, the first 32 hex
 * digits written with the letters a-p for 0-f.
 */
function extensionId(path) {
  const hex = createHash('sha256').update(path).digest('hex').slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

/** The extension with vendor/ and model/ filled, as web/extension/setup.sh does, in `to`. */
function prepareExtension(to) {
  cpSync(SOURCE, to, { recursive: true, filter: (p) => !/[/\\](vendor|model)$/.test(p) });
  cpSync(join(PACKAGE_DIR, 'dist'), join(to, 'vendor'), { recursive: true });
  mkdirSync(join(to, 'model'));
  for (const f of readdirSync(MODEL_DIR).filter((f) => /^(config\.json|tokenizer\.json)$|\.safetensors/.test(f))) {
    cpSync(join(MODEL_DIR, f), join(to, 'model', f));
  }
}

/** Records what a page logs as an error; a missing shard index (a 404 by design) is not one. */
function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`[console] ${m.text().slice(0, 400)}`);
  });
  page.on('pageerror', (e) => problems.push(`[pageerror] ${e.message.slice(0, 400)}`));
  return page;
}

/** Replaces the two tab APIs of the popup with `window.__screen` (set by the test). */
function standInCapture() {
  chrome.tabs.captureVisibleTab = async () => window.__screen.dataUrl;
  chrome.tabs.query = async () => [window.__screen.tab];
}

/** Each screen as the popup would capture it: a PNG data URL of a normal tab, its title and URL. */
async function captureScreens() {
  const page = watch(await context.newPage());
  await page.setViewportSize({ width: 480, height: 320 });
  const shots = [];
  for (const { image, title } of SCREENS) {
    const src = `data:image/png;base64,${readFileSync(join(FIXTURES, 'images', image)).toString('base64')}`;
    await page.setContent(`<title>${title}</title><body style="margin:0"><img src="${src}" style="width:100vw;height:100vh">`);
    const png = await page.screenshot();
    shots.push({ title, dataUrl: `data:image/png;base64,${png.toString('base64')}`, tab: { title, url: `file:///${image}` } });
  }
  await page.close();
  return shots;
}

const status = (page) => page.textContent('#status');
/** What the offscreen document's model host says: the model URL it holds and how many loads it made. */
const modelHost = (page) => page.evaluate(async () => (await chrome.runtime.sendMessage({ to: 'model', op: 'status' })).ok);
async function waitStatus(page, pattern) {
  await page.waitForFunction((p) => new RegExp(p).test(document.getElementById('status').textContent), pattern.source, WAIT)
    .catch(async (e) => assert.fail(`status "${await status(page)}" never matched ${pattern}: ${e.message}\n${problems.join('\n')}`));
}

async function openPopup({ standIn = true } = {}) {
  const page = watch(await context.newPage());
  await page.setViewportSize({ width: 480, height: 640 });
  if (standIn) await page.addInitScript(standInCapture);
  await page.goto(`chrome-extension://${id}/popup.html`);
  await waitStatus(page, /^\d+ demos, model on (cpu|webgpu)$/);
  return page;
}

let screens, popup;
const timings = {};

before(async () => {
  // The path Chromium hashes is the real one (no symlinks), as it resolves --load-extension.
  // The profile goes where there is room: a nearly full disk makes Chromium refuse Cache API
  // writes, which the hosted-model test checks (roomiestTmpdir says more).
  tmp = realpathSync(mkdtempSync(join(roomiestTmpdir(), 'qwen3-vl-extension-')));
  dir = join(tmp, 'extension');
  prepareExtension(dir);
  id = extensionId(dir);
  const t0 = Date.now();
  context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    ignoreDefaultArgs: ['--headless', '--disable-extensions'],
    args: ['--headless=new', '--no-sandbox', `--disable-extensions-except=${dir}`, `--load-extension=${dir}`,
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  timings.launchMs = Date.now() - t0;
  screens = await captureScreens();
});

after(async () => {
  await context?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  console.log(`# ${JSON.stringify(timings)}`);
});

test('the popup loads the model (the extension id is the hash of its path)', async () => {
  const t0 = Date.now();
  popup = await openPopup().catch((e) => assert.fail(`popup of extension ${id} at ${dir}: ${e.message}`));
  timings.popupReadyMs = Date.now() - t0;
  assert.match(await status(popup), /^0 demos, model on (cpu|webgpu)$/);
  const host = await modelHost(popup);
  assert.ok(host.modelUrl.endsWith(`${id}/model/`) && host.loads === 1, `model host: ${JSON.stringify(host)}`);
  assert.deepEqual(problems, []);
});

test('"Add" adds each screen as a demo and stores the index in chrome.storage.local', async () => {
  const t0 = Date.now();
  for (const [i, screen] of screens.entries()) {
    await popup.evaluate((s) => (window.__screen = s), screen);
    await popup.fill('#title', screen.title);
    await popup.click('#add');
    await waitStatus(popup, new RegExp(`^added "${screen.title}" \\(${i + 1} demos\\)$`));
  }
  timings.addMs = Date.now() - t0;
  const stored = await popup.evaluate(async () => (await chrome.storage.local.get('index')).index?.length ?? 0);
  assert.ok(stored > 0, 'no index in chrome.storage.local');
  assert.deepEqual(problems, []);
});

test('the library survives reopening the popup, and the model stays loaded in the offscreen document', async () => {
  await popup.close();
  const t0 = Date.now();
  popup = await openPopup();
  timings.reopenMs = Date.now() - t0;
  assert.match(await status(popup), /^3 demos, model on /);
  assert.equal((await modelHost(popup)).loads, 1, 'the model was loaded again');
});

test('"Find" ranks the demo of the same screen first, with scores and thumbnails', async () => {
  for (const [i, screen] of screens.entries()) {
    // The status line of the previous "Find" would match too: clear it first.
    await popup.evaluate((s) => {
      window.__screen = s;
      document.getElementById('status').textContent = '';
    }, screen);
    await popup.click('#find');
    await waitStatus(popup, /^3 of 3 demos in \d+ ms$/);
    const hits = await popup.$$eval('#results li', (lis) => lis.map((li) => {
      const img = li.querySelector('img');
      return { text: li.textContent, thumb: img.src.slice(0, 23), width: img.naturalWidth };
    }));
    assert.equal(hits.length, 3);
    const scores = hits.map(({ text }) => Number(text.match(/^(-?\d\.\d{3}) /)?.[1]));
    assert.ok(scores.every(Number.isFinite), `scores: ${hits.map((h) => h.text)}`);
    assert.deepEqual(scores, scores.toSorted((a, b) => b - a), 'results are not best first');
    assert.equal(hits[0].text.slice(6), screen.title, `screen ${i}: ${hits.map((h) => h.text).join(' | ')}`);
    for (const h of hits) assert.ok(h.thumb === 'data:image/jpeg;base64,' && h.width > 0, 'a result without a thumbnail');
    timings[`find${i}`] = (await status(popup)).match(/(\d+) ms/)[1];
  }
  const shotDir = mkdtempSync(join(tmpdir(), 'qwen3-vl-extension-popup-'));
  await popup.screenshot({ path: join(shotDir, 'popup.png'), fullPage: true });
  console.log(`# popup with results: ${join(shotDir, 'popup.png')}`);
  assert.deepEqual(problems, []);
});

test('without the click on the action, capturing fails visibly in the status line', async () => {
  const page = await openPopup({ standIn: false });
  await page.click('#find');
  await waitStatus(page, /^error: .*activeTab/);
  assert.equal(await page.isEnabled('#find'), true, 'the buttons stay disabled after an error');
  await page.close();
});

test('"Clear library" empties it, also in storage', async () => {
  await popup.click('#clear');
  await waitStatus(popup, /^library cleared$/);
  await popup.close();
  popup = await openPopup();
  assert.match(await status(popup), /^0 demos, model on /);
  assert.deepEqual(problems.filter((p) => p.includes('panicked')), [], 'the wasm module panicked');
  assert.deepEqual(problems, []);
});

test('a hosted model URL set under "Model" is downloaded once into the Cache API and loads from there the next time', async () => {
  const server = await serve(0);
  const weights = [];
  server.on('request', (req) => req.url.endsWith('/model.safetensors') && weights.push(req.url));
  const url = `http://127.0.0.1:${server.address().port}/fixtures/models/tiny-embedding/`;
  try {
    let page = await openPopup();
    // One demo made with the packed model: another model's vectors cannot join its library.
    await page.evaluate((s) => (window.__screen = s), screens[0]);
    await page.fill('#title', screens[0].title);
    await page.click('#add');
    await waitStatus(page, /^added ".*" \(1 demos\)$/);
    await page.click('summary'); // "Model", as a user opens it
    await page.fill('#model-url', url);
    await Promise.all([page.waitForEvent('load', WAIT), page.click('#use-model')]);
    await waitStatus(page, /^0 demos, model on (cpu|webgpu) \(a new library for this model\)$/);
    const aside = await page.evaluate(async () => (await chrome.storage.local.get('previousIndex')).previousIndex);
    assert.ok(aside?.index && aside.indexModel.endsWith('/model/'), 'the packed model\'s library is set aside');
    assert.equal(await page.inputValue('#model-url'), url);
    const cached = await page.evaluate(async () => (await (await caches.open('qwen3-vl-embed-v1')).keys()).map((r) => r.url));
    const free = `${(freeBytes(tmp) / 1e9).toFixed(2)} GB free for the profile`;
    assert.ok(cached.includes(`${url}model.safetensors`), `Cache API: ${cached.join(', ')} (${free})`);
    // A browser restart, as far as the model goes: the offscreen document closes with the
    // browser, so the next popup loads the model again, from the Cache API, not the network.
    await page.evaluate(() => chrome.offscreen.closeDocument());
    await page.close();
    page = await openPopup();
    assert.equal(weights.length, 1, `weight downloads: ${weights.join(', ')}`);
    assert.deepEqual(await modelHost(page), { modelUrl: url, loads: 1 }, 'a new offscreen document, one load');
    // Back to the packed model.
    await page.click('summary');
    await page.fill('#model-url', '');
    await Promise.all([page.waitForEvent('load', WAIT), page.click('#use-model')]);
    await waitStatus(page, /^0 demos, model on (cpu|webgpu)$/);
    assert.equal(await page.evaluate(async () => (await chrome.storage.local.get('modelUrl')).modelUrl), undefined);
    await page.close();
    assert.deepEqual(problems, []);
  } finally {
    server.close();
  }
});
