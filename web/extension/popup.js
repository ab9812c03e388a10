// The extension's popup: everything (model, index, screenshots) stays on this device.
// `vendor/` holds the npm package's dist/ and `model/` a model directory (see README.md). The
// model itself lives in the offscreen document (model_host.js), so it stays loaded between
// popups; the index lives here and in chrome.storage.local.
import { Index } from './vendor/browser.js';
import { remoteEmbedder } from './model_client.js';

const $ = (id) => document.getElementById(id);
const INSTRUCTION = 'Find the demonstration that matches this screen';

/** Errors go to the status line: a popup has no console that a user would look at. */
const fail = (e) => ($('status').textContent = `error: ${e?.message ?? e}`);
/** The buttons work once the model and the index are loaded, and on one thing at a time. */
const enable = (on) => ['add', 'find', 'clear'].forEach((id) => ($(id).disabled = !on));

/** The model packed in the extension (`model/`), used unless a hosted one is set under "Model". */
const PACKED_MODEL = chrome.runtime.getURL('model/');

// A hosted model: a directory URL (a converted q4 directory is the smallest download; the Hub's
// https://huggingface.co/OWNER/NAME/resolve/REVISION/ works too). Its files are kept in the Cache
// API, which lives in the browser profile: after a browser restart the model loads from there.
const { modelUrl: hosted } = await chrome.storage.local.get('modelUrl');
const modelUrl = hosted || PACKED_MODEL;
$('model-url').value = hosted ?? '';
$('use-model').onclick = async () => {
  const url = $('model-url').value.trim();
  await (url ? chrome.storage.local.set({ modelUrl: url }) : chrome.storage.local.remove('modelUrl'));
  location.reload();
};

let embedder, index;
let note = '';
try {
  embedder = await remoteEmbedder(modelUrl, ({ file, loaded, total }) =>
    ($('status').textContent = `loading ${file} ${(loaded / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`));
  index = await loadIndex();
} catch (e) {
  fail(e);
  throw e;
}
$('status').textContent = `${index.size} demos, model on ${embedder.device}${note}`;
enable(true);

/**
 * The index is kept in chrome.storage.local as base64 of `toBytes()` (storage takes JSON), with
 * the model URL its vectors came from: another model's vectors cannot be compared, so a library
 * made with another model is set aside (kept in storage as `previousIndex`) and a new one begins.
 */
async function loadIndex() {
  const { index: saved, indexModel = PACKED_MODEL } = await chrome.storage.local.get(['index', 'indexModel']);
  if (saved && indexModel === modelUrl) return Index.fromBytes(Uint8Array.from(atob(saved), (c) => c.charCodeAt(0)));
  if (saved) {
    await chrome.storage.local.set({ previousIndex: { index: saved, indexModel } });
    await chrome.storage.local.remove('index');
    note = ' (a new library for this model)';
  }
  return Index.create({ model: 'demo-finder', dim: embedder.dimensions });
}

async function saveIndex() {
  const bytes = index.toBytes();
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  await chrome.storage.local.set({ index: btoa(s), indexModel: modelUrl });
}

/** The visible tab as a PNG data URL, plus a small JPEG thumbnail (a data URL) for the result list. */
async function captureScreen() {
  const dataUrl = await chrome.tabs.captureVisibleTab({ format: 'png' });
  const blob = await (await fetch(dataUrl)).blob();
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, 320 / bitmap.width);
  const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.7 });
  const thumb = await new Promise((ok, err) => {
    const r = new FileReader();
    r.onload = () => ok(r.result);
    r.onerror = () => err(r.error);
    r.readAsDataURL(jpeg);
  });
  return { dataUrl, thumb };
}

/**
 * A button's handler: the buttons stay disabled while it runs, and a failure shows in the status
 * line, e.g. when the tab cannot be captured (chrome:// pages, the Web Store, or the popup
 * opened as a tab instead of from the action, which is what grants `activeTab`).
 */
const action = (fn) => async () => {
  enable(false);
  try {
    await fn();
  } catch (e) {
    fail(e);
  } finally {
    enable(true);
  }
};

$('add').onclick = action(async () => {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  const title = $('title').value.trim() || tab.title;
  const { dataUrl, thumb } = await captureScreen();
  const vector = await embedder.embed({ image: dataUrl, text: title });
  index.add(`demo-${Date.now()}`, vector, { title, url: tab.url, thumb });
  await saveIndex();
  $('title').value = '';
  $('status').textContent = `added "${title}" (${index.size} demos)`;
});

$('find').onclick = action(async () => {
  const { dataUrl } = await captureScreen();
  const t0 = performance.now();
  const hits = index.search(await embedder.embed({ image: dataUrl, instruction: INSTRUCTION }), 3);
  $('results').replaceChildren(
    ...hits.map(({ score, metadata }) => {
      const li = document.createElement('li');
      const img = document.createElement('img');
      img.src = metadata.thumb;
      li.append(`${score.toFixed(3)} ${metadata.title}`, img);
      return li;
    }),
  );
  $('status').textContent = `${hits.length} of ${index.size} demos in ${Math.round(performance.now() - t0)} ms`;
});

$('clear').onclick = action(async () => {
  await chrome.storage.local.remove('index');
  for (const id of index.ids()) index.remove(id);
  $('results').replaceChildren();
  $('status').textContent = 'library cleared';
});
