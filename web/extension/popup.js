// The extension's popup: everything (model, index, screenshots) stays on this device.
// `vendor/` holds the npm package's dist/ and `model/` a model directory (see README.md).
import { Embedder, Index } from './vendor/browser.js';

const $ = (id) => document.getElementById(id);
const INSTRUCTION = 'Find the demonstration that matches this screen';

const embedder = await Embedder.load({
  modelUrl: chrome.runtime.getURL('model/'),
  onProgress: ({ file, loaded }) => ($('status').textContent = `loading ${file} ${(loaded / 1e6).toFixed(1)} MB`),
});
const index = await loadIndex();
$('status').textContent = `${index.size} demos, model on ${embedder.device}`;
$('add').disabled = $('find').disabled = false;

async function loadIndex() {
  const { index: saved } = await chrome.storage.local.get('index');
  if (saved) return Index.fromBytes(Uint8Array.from(atob(saved), (c) => c.charCodeAt(0)));
  return Index.create({ model: 'demo-finder', dim: embedder.dimensions });
}

async function saveIndex() {
  const bytes = index.toBytes();
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  await chrome.storage.local.set({ index: btoa(s) });
}

/** The visible tab as PNG bytes, plus a small JPEG thumbnail for the result list. */
async function captureScreen() {
  const dataUrl = await chrome.tabs.captureVisibleTab({ format: 'png' });
  const blob = await (await fetch(dataUrl)).blob();
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, 320 / bitmap.width);
  const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const thumb = await new Promise((ok) => {
    const r = new FileReader();
    canvas.convertToBlob({ type: 'image/jpeg', quality: 0.7 }).then((b) => (r.onload = () => ok(r.result), r.readAsDataURL(b)));
  });
  return { bytes: new Uint8Array(await blob.arrayBuffer()), thumb };
}

$('add').onclick = async () => {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  const title = $('title').value.trim() || tab.title;
  const { bytes, thumb } = await captureScreen();
  const vector = await embedder.embed({ image: bytes, text: title });
  index.add(`demo-${Date.now()}`, vector, { title, url: tab.url, thumb });
  await saveIndex();
  $('status').textContent = `added "${title}" (${index.size} demos)`;
};

$('find').onclick = async () => {
  const { bytes } = await captureScreen();
  const t0 = performance.now();
  const hits = index.search(await embedder.embed({ image: bytes, instruction: INSTRUCTION }), 3);
  $('results').replaceChildren(
    ...hits.map(({ score, metadata }) => {
      const li = document.createElement('li');
      const img = document.createElement('img');
      img.src = metadata.thumb;
      li.append(img, `${score.toFixed(3)} ${metadata.title}`);
      return li;
    }),
  );
  $('status').textContent = `${hits.length} of ${index.size} demos in ${Math.round(performance.now() - t0)} ms`;
};

$('clear').onclick = async () => {
  await chrome.storage.local.remove('index');
  for (const id of index.ids()) index.remove(id);
  $('results').replaceChildren();
  $('status').textContent = 'library cleared';
};
