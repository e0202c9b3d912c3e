'use strict';
// The package as deployed: node:cluster workers, process exit, ES modules.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync, spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startMock } = require('./mock.js');

const PACKAGE = join(__dirname, '..');

function run(args, env, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

test('a cluster of 4 workers shares one token per lifetime through the token cache', async () => {
  // 6 s tokens, due after 3 s: over 8 s that is 3 fetches for everyone,
  // where 4 workers with a cache each would make 12.
  const mock = await startMock(['--expires-in', '6']);
  const cache = mkdtempSync(join(tmpdir(), 'sigma-node-cache-'));
  try {
    const result = await run([join(__dirname, 'apps', 'cluster.js')], {
      MOCK_URL: mock.url,
      TOKEN_CACHE: cache,
      WORKERS: '4',
      SECONDS: '8',
    });
    assert.equal(result.code, 0, result.out);
    const report = JSON.parse(result.out.trim().split('\n').pop());
    assert.equal(report.workers, 4);
    const stats = await mock.stats();
    // Every token any worker was given came from one of the requests made,
    // and there were at most one per window (plus the first).
    assert.equal(report.distinct, stats.token_requests);
    assert.ok(stats.token_requests >= 2 && stats.token_requests <= 4, JSON.stringify(stats.by_grant));
  } finally {
    mock.stop();
    rmSync(cache, { recursive: true, force: true });
  }
});

test('a process with a live client and an onEvent handler still exits by itself', async () => {
  const mock = await startMock();
  try {
    const script = `
      const { Client } = require(${JSON.stringify(PACKAGE)});
      const client = new Client({ endpoint: process.env.MOCK_URL, clientId: 'demo-client', clientSecret: 'demo-secret',
                                  onEvent: (e) => { globalThis.lastEvent = e; } });
      client.token().then((t) => console.log('got', t.serial));`;
    const started = Date.now();
    const result = await run(['-e', script], { MOCK_URL: mock.url }, 15000);
    assert.equal(result.signal, null, 'the process had to be killed: something kept it alive');
    assert.equal(result.code, 0);
    assert.match(result.out, /got 1/);
    assert.ok(Date.now() - started < 10000);
  } finally {
    mock.stop();
  }
});

test('the ES module entry point gives the same objects', () => {
  const script = `
    import sigmaAuth, { Client, SigmaAuthError, signEmbedUrl, Token } from ${JSON.stringify(join(PACKAGE, 'index.mjs'))};
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)(${JSON.stringify(PACKAGE)});
    console.log(Client === cjs.Client && SigmaAuthError === cjs.SigmaAuthError && signEmbedUrl === cjs.signEmbedUrl
      && Token === cjs.Token && sigmaAuth === cjs);`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'true');
});

test('Client.fromLogin is async, and without a stored sign-in it is LOGIN_REQUIRED', () => {
  const home = mkdtempSync(join(tmpdir(), 'sigma-node-home-'));
  try {
    const script = `
      const { Client } = require(${JSON.stringify(PACKAGE)});
      const pending = Client.fromLogin('work');
      console.log(pending instanceof Promise);
      pending.then(() => console.log('made'), (e) => console.log(e.name, e.code));`;
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), SIGMA_KEYRING: 'file' };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'true\nSigmaAuthError LOGIN_REQUIRED');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
