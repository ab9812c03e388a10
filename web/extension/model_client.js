// The popup's side of the model in the offscreen document (model_host.js): creates that
// document when it does not exist yet (first popup after a browser start, or after Chrome
// closed it) and sends it requests.

const OFFSCREEN = 'offscreen.html';

/** The offscreen document, created once; it lives until the browser closes or it is closed. */
async function ensureOffscreen() {
  const url = chrome.runtime.getURL(OFFSCREEN);
  const open = await chrome.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'], documentUrls: [url] });
  if (open.length) return;
  await chrome.offscreen
    .createDocument({ url: OFFSCREEN, reasons: ['WORKERS'], justification: 'Keeps the embedding model loaded between popups' })
    // Two popups racing: the other one created it.
    .catch((e) => { if (!/single offscreen/i.test(e?.message)) throw e; });
}

/**
 * Sends `op` to the model host and returns its answer, or throws its error (with `code`, as the
 * package's errors have). A document that is still starting has no listener yet: retried for
 * up to ten seconds.
 */
async function call(op, fields = {}) {
  await ensureOffscreen();
  for (let attempt = 0; ; attempt += 1) {
    try {
      const answer = await chrome.runtime.sendMessage({ to: 'model', op, ...fields });
      if (answer === undefined) throw new Error('Receiving end does not exist (no answer)');
      if (answer.error) throw Object.assign(new Error(answer.error), { code: answer.code });
      return answer.ok;
    } catch (e) {
      if (!/Receiving end does not exist/.test(e?.message) || attempt >= 100) throw e;
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
}

/** The model at `modelUrl`, kept in the offscreen document: `embed` returns a Float32Array. */
export async function remoteEmbedder(modelUrl, onProgress) {
  const listener = (m) => m?.to === 'popup' && m.op === 'progress' && onProgress(m);
  chrome.runtime.onMessage.addListener(listener);
  try {
    const { device, dimensions } = await call('load', { modelUrl });
    return {
      device,
      dimensions,
      /** `image`: a data URL (what captureVisibleTab gives). */
      embed: async ({ image = null, text = null, instruction = null }) =>
        Float32Array.from(await call('embed', { modelUrl, image, text, instruction })),
    };
  } finally {
    chrome.runtime.onMessage.removeListener(listener);
  }
}
