// A static server for the demo and the browser tests (no dependencies):
//   /            -> web/            (demo/, extension/)
//   /pkg/        -> the npm package (npm/ by default, QWEN3_VL_PACKAGE_DIR to serve an installed copy)
//   /fixtures/   -> tests/fixtures/ (the tiny test checkpoints and images)
// Usage: node web/serve.mjs [port]   then open http://localhost:8080/demo/
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(web, '..');
const mounts = [
  ['/pkg/', process.env.QWEN3_VL_PACKAGE_DIR ?? join(root, 'npm')],
  ['/fixtures/', join(root, 'tests', 'fixtures')],
  ['/', web],
];
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.jpg': 'image/jpeg',
  '.webp': 'image/webp', '.gif': 'image/gif', '.svg': 'image/svg+xml',
};

/** `extra`: more `[prefix, directory]` mounts, looked at first (the tests serve temp dirs). */
export function serve(port = 0, extra = []) {
  const all = [...extra, ...mounts];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [prefix, dir] = all.find(([p]) => path.startsWith(p));
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      // CORS: an extension page (or another origin) may load a model from here, as from the Hub.
      res.writeHead(200, {
        'content-type': types[extname(file)] ?? 'application/octet-stream',
        'content-length': size,
        'access-control-allow-origin': '*',
      });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'access-control-allow-origin': '*' }).end('not found');
    }
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] ?? 8080));
  console.log(`http://127.0.0.1:${server.address().port}/demo/`);
}
