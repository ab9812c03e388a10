// The demo: load a model, build a demo library from dropped screenshots, retrieve top-k for a task.
import { Embedder, Index } from 'qwen3-vl-embed';

const $ = (id) => document.getElementById(id);
const state = { embedder: null, index: null, demos: new Map(), next: 0 };
window.demoState = state; // for tests and the console

function status(text) {
  $('status').textContent = text;
}

async function load() {
  state.embedder?.dispose();
  state.embedder = null;
  $('go').disabled = true;
  const files = [...$('model-files').files];
  const byName = (n) => files.find((f) => f.name === n);
  const source = files.length
    ? { files: { config: byName('config.json'), tokenizer: byName('tokenizer.json'), weights: files.filter((f) => f.name.endsWith('.safetensors')) } }
    : { modelUrl: new URL($('model-url').value, location.href) };
  status('loading ...');
  const t0 = performance.now();
  try {
    state.embedder = await Embedder.load({
      ...source,
      device: $('device').value,
      onProgress: ({ phase, file, loaded, total }) => {
        $('progress').value = total ? loaded / total : 0;
        status(`${phase} ${file} ${(loaded / 1e6).toFixed(1)} MB`);
      },
    });
  } catch (e) {
    status(`error ${e.code ?? ''}: ${e.message}`);
    return;
  }
  state.index = await Index.create({ model: 'demo', dim: state.embedder.dimensions });
  for (const demo of state.demos.values()) state.index.add(demo.id, await embedDemo(demo), { name: demo.name });
  status(`loaded on ${state.embedder.device} in ${Math.round(performance.now() - t0)} ms`);
  $('go').disabled = false;
}

function embedDemo(demo) {
  return state.embedder.embed({ image: demo.bytes, text: demo.name });
}

async function addDemos(files) {
  for (const file of files) {
    const demo = { id: `demo-${state.next++}`, name: file.name.replace(/\.[^.]+$/, ''), bytes: new Uint8Array(await file.arrayBuffer()), url: URL.createObjectURL(file) };
    state.demos.set(demo.id, demo);
    const li = document.createElement('li');
    li.innerHTML = `<img class="thumb"><div></div>`;
    li.querySelector('img').src = demo.url;
    li.querySelector('div').textContent = demo.name;
    $('demos').append(li);
    if (state.index) state.index.add(demo.id, await embedDemo(demo), { name: demo.name });
  }
  status(`${state.demos.size} demos${state.embedder ? ' indexed' : ''}`);
}

async function search() {
  const image = $('query-image').files[0];
  const text = $('task').value.trim();
  const t0 = performance.now();
  try {
    const query = await state.embedder.embed({
      text: text || undefined,
      image: image ? new Uint8Array(await image.arrayBuffer()) : undefined,
      instruction: 'Find the demonstration that shows how to do this task',
    });
    const hits = state.index.search(query, Number($('k').value) || 3);
    $('results').replaceChildren(
      ...hits.map((hit) => {
        const li = document.createElement('li');
        li.innerHTML = `<img class="thumb"><div><span class="score"></span> <span class="name"></span></div>`;
        li.querySelector('img').src = state.demos.get(hit.id).url;
        li.querySelector('.score').textContent = hit.score.toFixed(3);
        li.querySelector('.name').textContent = hit.metadata.name;
        return li;
      }),
    );
    status(`${hits.length} results in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    status(`error ${e.code ?? ''}: ${e.message}`);
  }
}

$('load').onclick = load;
$('go').onclick = search;
$('task').onkeydown = (e) => e.key === 'Enter' && !$('go').disabled && search();
$('demo-files').onchange = (e) => addDemos([...e.target.files]);
const drop = $('drop');
drop.ondragover = (e) => (e.preventDefault(), drop.classList.add('over'));
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  addDemos([...e.dataTransfer.files].filter((f) => f.type.startsWith('image/')));
};
