// Serves the seat-booking page, Centrifugo's JavaScript SDK from
// node_modules (run `npm ci` here first), and the page's settings, and signs
// a connect token for the user the page names.
//
// Usage: node serve.mjs [--host 127.0.0.1] [--port 8090]
//                       [--centrifugo ws://127.0.0.1:8000/connection/websocket]
//                       [--event show]
//
// The token is an HS256 JWT with `sub` (the user) and `exp` (an hour), signed
// with ROTOR_JWT_SECRET: the secret the connect-jwt plugin checks tokens
// with. Anyone who can reach this server gets a token for any name, which is
// what a demo wants; a real application signs tokens after its own login.
//
// Prints `serving http://HOST:PORT/` once it listens (`--port 0` picks a free
// port).

import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8090' },
    centrifugo: { type: 'string', default: 'ws://127.0.0.1:8000/connection/websocket' },
    event: { type: 'string', default: 'show' },
  },
});

const secret = process.env.ROTOR_JWT_SECRET;
if (!secret) {
  console.error('serve.mjs: set ROTOR_JWT_SECRET to the connect-jwt plugin\'s secret');
  process.exit(2);
}

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
// The only files served, by URL path.
const files = {
  '/': [here('./index.html'), 'text/html; charset=utf-8'],
  '/index.html': [here('./index.html'), 'text/html; charset=utf-8'],
  '/app.js': [here('./app.js'), 'text/javascript; charset=utf-8'],
  '/style.css': [here('./style.css'), 'text/css; charset=utf-8'],
  '/centrifuge.js': [here('./node_modules/centrifuge/dist/centrifuge.js'), 'text/javascript; charset=utf-8'],
};
try {
  await readFile(files['/centrifuge.js'][0]);
} catch {
  console.error('serve.mjs: the centrifuge package is missing: run `npm ci` in plugins/ticket-booking/web');
  process.exit(2);
}

const base64url = (data) => Buffer.from(data).toString('base64url');

function token(user) {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const signature = createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

function send(response, status, type, body) {
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://page');
  if (request.method !== 'GET') {
    send(response, 405, 'text/plain', 'GET only\n');
  } else if (url.pathname === '/config.json') {
    send(response, 200, 'application/json',
      JSON.stringify({ centrifugo: options.centrifugo, event: options.event }));
  } else if (url.pathname === '/token') {
    const user = url.searchParams.get('user') || '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(user)) {
      send(response, 400, 'text/plain', 'user: 1 to 32 letters, digits, - or _\n');
    } else {
      send(response, 200, 'application/json', JSON.stringify({ token: token(user) }));
    }
  } else if (Object.hasOwn(files, url.pathname)) {
    const [path, type] = files[url.pathname];
    try {
      send(response, 200, type, await readFile(path));
    } catch (error) {
      send(response, 500, 'text/plain', `${error.message}\n`);
    }
  } else {
    send(response, 404, 'text/plain', 'not found\n');
  }
});

server.listen(Number(options.port), options.host, () => {
  const { address, port } = server.address();
  console.log(`serving http://${address}:${port}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
