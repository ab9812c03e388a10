// The model, kept loaded in the extension's offscreen document (offscreen.html) so that it
// survives the popup: a popup closes whenever it loses focus, and a 2B model takes seconds to
// load. The popup talks to it through runtime messages (model_client.js): `load` (once per
// model URL; progress goes back as `progress` messages), `embed` and `status`. An offscreen
// document has only `chrome.runtime`, so the popup keeps the index and the settings.
import { Embedder } from './vendor/browser.js';

let current = null; // { modelUrl, embedder: Promise<Embedder> }
let loads = 0; // how many models this document has loaded (the test checks it stays at one)

/** The embedder for `modelUrl`: the one already loaded or loading, else a new load. */
function embedderFor(modelUrl) {
  if (current?.modelUrl === modelUrl) return current.embedder;
  current?.embedder.then((e) => e.dispose(), () => {});
  loads += 1;
  const embedder = Embedder.load({
    modelUrl,
    // No popup open is not an error: the load goes on, and the next popup asks again.
    onProgress: (p) => chrome.runtime.sendMessage({ to: 'popup', op: 'progress', ...p }).catch(() => {}),
  });
  current = { modelUrl, embedder };
  // A failed load is forgotten, so that the next popup tries again instead of failing at once.
  embedder.catch(() => current?.embedder === embedder && (current = null));
  return embedder;
}

/** What each message does; the answer goes back as `{ ok }` or `{ error }`. */
const ops = {
  async load({ modelUrl }) {
    const embedder = await embedderFor(modelUrl);
    return { device: embedder.device, dimensions: embedder.dimensions };
  },
  async embed({ modelUrl, image, text, instruction }) {
    const embedder = await embedderFor(modelUrl);
    // Runtime messages are JSON: the screenshot comes as a data URL, the vector goes back as numbers.
    const bytes = image ? new Uint8Array(await (await fetch(image)).arrayBuffer()) : null;
    return Array.from(await embedder.embed({ image: bytes, text, instruction }));
  },
  async status() {
    return { modelUrl: current?.modelUrl ?? null, loads };
  },
};

chrome.runtime.onMessage.addListener((message, _sender, respond) => {
  if (message?.to !== 'model' || !ops[message.op]) return false;
  ops[message.op](message).then(
    (ok) => respond({ ok }),
    (e) => respond({ error: e?.message ?? String(e), code: e?.code }),
  );
  return true; // the answer comes asynchronously
});
