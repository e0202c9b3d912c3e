'use strict';
// The project's mock Sigma server (tools/sigma-mock), one per test that needs
// one, on loopback: $SIGMA_MOCK_BIN, else target/debug/sigma-mock.

const { spawn } = require('node:child_process');
const http = require('node:http');
const { join } = require('node:path');
const readline = require('node:readline');

const BIN = process.env.SIGMA_MOCK_BIN || join(__dirname, '..', '..', '..', 'target', 'debug', 'sigma-mock');

async function startMock(args = []) {
  const child = spawn(BIN, ['--port', '0', '--exit-with-stdin', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sigma-mock exited with ${code}`)));
  });
  lines.close();
  const post = (path, body) =>
    fetch(url + path, { method: 'POST', body: body === undefined ? '' : JSON.stringify(body) }).then((r) => r.json());
  return {
    url,
    stats: () => fetch(`${url}/__mock/stats`).then((r) => r.json()),
    faults: (list) => post('/__mock/faults', list),
    expire: () => post('/__mock/expire'),
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
}

const CLIENT = { clientId: 'demo-client', clientSecret: 'demo-secret' };

// Runs `body` with a mock started with `args`, and stops the mock after it.
async function withMock(args, body) {
  const mock = await startMock(args);
  try {
    return await body(mock);
  } finally {
    mock.stop();
  }
}

// A server on a loopback address (127.0.0.2 plays another host) that records
// what it was sent and answers with `handler` (by default 200 {"ok":true}).
async function server(host = '127.0.0.2', handler = undefined) {
  const seen = [];
  const s = http.createServer((req, res) => {
    seen.push({ url: req.url, method: req.method, headers: req.headers });
    if (handler) return handler(req, res, seen.length);
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise((resolve) => s.listen(0, host, resolve));
  return { url: `http://${host}:${s.address().port}`, seen, close: () => s.close() };
}

// A real redis-server (Debian's package) on loopback, for the token store.
async function startRedis() {
  const net = require('node:net');
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > until) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { url: `redis://127.0.0.1:${port}/0`, stop: () => child.kill('SIGKILL') };
}

module.exports = { startMock, withMock, startRedis, server, CLIENT, BIN };
