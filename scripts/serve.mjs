#!/usr/bin/env node
// A static file server for the demo page (web/) and the browser tests, no
// dependencies. Every response is cross-origin isolated (COOP + COEP) so the
// page gets SharedArrayBuffer and the pthreads wasm build can run.
//
//   node scripts/serve.mjs [root]          PORT=8080 by default; PORT=0 picks a free port
//   import { serve } from './serve.mjs'    serve({ root, port: 0, mounts }) -> { server, url }
import { createReadStream, promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

// mounts: { '/prefix/': '/abs/dir' } served before root (the tests mount a
// temp folder of converted models this way).
export function serve({ root, port = 0, host = '127.0.0.1', mounts = {}, log = false } = {}) {
  const dirs = Object.entries(mounts).map(([p, d]) => [p.endsWith('/') ? p : p + '/', resolve(d)]);
  dirs.push(['/', resolve(root)]);
  const server = createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { ...ISOLATION, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, 'bad url\n');
    }
    const [prefix, dir] = dirs.find(([p]) => path.startsWith(p));
    // Resolved inside the mount, never above it ("..", encoded or not).
    let file = resolve(dir, '.' + normalize('/' + path.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + sep)) return send(403, 'forbidden\n');
    try {
      let st = await fs.stat(file);
      if (st.isDirectory()) {
        if (!path.endsWith('/')) {
          res.writeHead(301, { ...ISOLATION, Location: path + '/' });
          return res.end();
        }
        file = join(file, 'index.html');
        st = await fs.stat(file);
      }
      res.writeHead(200, {
        ...ISOLATION,
        'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': st.size,
        // Rebuilt files must be seen on reload.
        'Cache-Control': 'no-cache',
      });
      if (log) console.log(`${req.method} ${path} 200`);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch {
      if (log) console.log(`${req.method} ${path} 404`);
      send(404, 'not found\n');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const a = server.address();
      ok({ server, url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${a.port}` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? resolve(fileURLToPath(import.meta.url), '../..');
  const port = Number(process.env.PORT ?? 8080);
  const { url } = await serve({ root, port, host: process.env.HOST ?? '127.0.0.1', log: true });
  console.log(`serving ${root} at ${url}/  (demo: ${url}/web/)`);
}
