'use strict';
// What a hostile review broke in the first version of the package, each kept
// fixed by a test: polluted prototypes, headers bound to their origin,
// aborts, slow endpoints starving others, async event handlers, shared
// objects, detached methods.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, SigmaAuthError } = require('..');
const { startMock, withMock, server, CLIENT } = require('./mock.js');

test('a polluted Object.prototype adds no origin, handler or setting', () =>
  withMock([], async (mock) => {
    const evil = await server('127.0.0.2');
    const events = [];
    try {
      Object.prototype.allowedOrigins = [evil.url];
      Object.prototype.onEvent = (e) => events.push(e);
      Object.prototype.caFile = '/nonexistent/ca.pem';
      const client = new Client({ endpoint: mock.url, ...CLIENT });
      await (await client.fetch(`${evil.url}/steal`)).text();
      assert.equal(evil.seen[0].headers.authorization, undefined);
      assert.equal(events.length, 0);
      client.close();
    } finally {
      delete Object.prototype.allowedOrigins;
      delete Object.prototype.onEvent;
      delete Object.prototype.caFile;
      evil.close();
    }
  }));

test('Cookie and Proxy-Authorization stay with their origin on a redirect, as with fetch', () =>
  withMock([], async (mock) => {
    const other = await server('127.0.0.2');
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT });
      const location = encodeURIComponent(`${other.url}/landed`);
      const response = await client.fetch(`${mock.url}/v2/redirect?status=307&location=${location}`, {
        method: 'POST',
        body: 'x',
        headers: { cookie: 'sid=SECRETCOOKIE', 'proxy-authorization': 'Basic c2VjcmV0', 'x-kept': 'yes' },
      });
      assert.equal(response.status, 200);
      assert.equal(response.redirected, true);
      const landed = other.seen[0].headers;
      assert.equal(landed.cookie, undefined);
      assert.equal(landed['proxy-authorization'], undefined);
      assert.equal(landed.authorization, undefined);
      assert.equal(landed['x-kept'], 'yes');
      client.close();
    } finally {
      other.close();
    }
  }));

test('an abort signal ends client.fetch while it waits for a token', () =>
  withMock(['--token-delay-ms', '3000'], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const token = client.token();
    let tokenFirst = false;
    token.then(() => (tokenFirst = true));
    await assert.rejects(client.fetch(`${mock.url}/v2/whoami`, { signal: AbortSignal.timeout(200) }), {
      name: 'TimeoutError',
    });
    assert.equal(tokenFirst, false, 'the abort waited for the token');
    await token;
    client.close();
  }));

test('a slow endpoint cannot take every thread from a healthy one, and queued fetches of a closed client never run', async () => {
  const slow = await startMock(['--token-delay-ms', '1000']);
  const healthy = await startMock();
  try {
    const admin = new Client({ endpoint: slow.url, ...CLIENT });
    await admin.token();
    const users = Array.from({ length: 16 }, (_, i) => admin.impersonate(`user${i}@example.com`));
    const stuck = users.map((user) => user.token().then(() => 'token', (e) => e.code));
    // The last users are queued behind the first ones (same endpoint and client id): close them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const user of users.slice(8)) user.close();
    const other = new Client({ endpoint: healthy.url, ...CLIENT, timeout: 1000 });
    let stuckDone = 0;
    for (const s of stuck) s.then(() => stuckDone++);
    const token = await other.token();
    assert.equal(typeof token.accessToken, 'string');
    assert.equal(stuckDone, 0, 'the healthy client waited for the slow endpoint');
    const outcomes = await Promise.all(stuck);
    assert.deepEqual(outcomes.slice(0, 8), Array(8).fill('token'));
    assert.ok(outcomes.slice(8).every((o) => o === 'CLOSED' || o === 'token'), String(outcomes));
    const exchanges = (await slow.stats()).by_grant['urn:ietf:params:oauth:grant-type:token-exchange'];
    assert.ok(exchanges < 16, `${exchanges} exchanges: the closed clients' queued fetches ran`);
    for (const user of users) user.close();
    admin.close();
    other.close();
  } finally {
    slow.stop();
    healthy.stop();
  }
});

test('an async onEvent handler that rejects is a warning, not an unhandled rejection', () =>
  withMock([], async (mock) => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w.message);
    process.on('warning', onWarning);
    const rejections = [];
    const onRejection = (r) => rejections.push(r);
    process.on('unhandledRejection', onRejection);
    try {
      const client = new Client({
        endpoint: mock.url,
        ...CLIENT,
        onEvent: async () => {
          throw { message: Symbol('not a string') };
        },
      });
      await client.token();
      for (let i = 0; i < 50 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(warnings.some((w) => /onEvent handler threw/.test(w)), String(warnings));
      assert.equal(rejections.length, 0);
      client.close();
    } finally {
      process.off('warning', onWarning);
      process.off('unhandledRejection', onRejection);
    }
  }));

test('one 401 retry per call, however the server mixes 401s and redirects', () =>
  withMock([], async (mock) => {
    let api;
    api = await server('127.0.0.1', (req, res, n) => {
      if (n % 2 === 1) {
        res.statusCode = 401;
        res.end();
      } else {
        res.statusCode = 302;
        res.setHeader('location', `${api.url}/loop`);
        res.end();
      }
    });
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT, allowedOrigins: [api.url] });
      const response = await client.fetch(`${api.url}/loop`);
      assert.equal(response.status, 401);
      assert.equal((await mock.stats()).token_requests, 2);
      client.close();
    } finally {
      api.close();
    }
  }));

test('callers share a token but not its Date, and each waiter gets its own error', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const token = await client.token();
    const expires = token.expiresAt.getTime();
    token.expiresAt.setTime(0);
    assert.equal((await client.token()).expiresAt.getTime(), expires);
    assert.ok(JSON.stringify(token).includes('expiresAt'));
    client.close();

    const bad = new Client({ endpoint: mock.url, clientId: 'demo-client', clientSecret: 'wrong' });
    const errors = await Promise.all(Array.from({ length: 10 }, () => bad.token().catch((e) => e)));
    assert.ok(errors.every((e) => e instanceof SigmaAuthError && e.code === 'INVALID_CLIENT'));
    assert.equal(new Set(errors).size, 10);
    assert.equal(bad.stats().tokensServed, 0, 'failed calls were counted as served');
    bad.close();
  }));

test('client.fetch works detached, as a library given it as its fetch would call it', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const { fetch } = client;
    assert.equal((await fetch(`${mock.url}/v2/whoami`)).status, 200);
    client.close();
  }));

test('numbers that are not what they mean are refused, and odd strings are clear errors', () => {
  const base = { endpoint: 'https://aws-api.sigmacomputing.com', ...CLIENT };
  for (const maxAttempts of [1.5, 0, 11, 2 ** 32 + 1, NaN]) {
    assert.throws(() => new Client({ ...base, maxAttempts }), TypeError, String(maxAttempts));
  }
  assert.throws(() => new Client({ ...base, timeout: 0.5 }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => new Client({ ...base, caFile: '/tmp/a\0b' }), (e) => {
    assert.ok(e instanceof SigmaAuthError, String(e));
    assert.equal(e.code, 'INVALID_ARGUMENT');
    return true;
  });
  const sparse = [];
  sparse[2] = 'https://example.com';
  assert.throws(() => new Client({ ...base, allowedOrigins: sparse }), TypeError);
});

test('a stream body is streamed once: a 401 then comes back as it is', () =>
  withMock([], async (mock) => {
    const received = [];
    const api = await server('127.0.0.1', (req, res) => {
      let size = 0;
      req.on('data', (chunk) => (size += chunk.length));
      req.on('end', () => {
        received.push(size);
        res.statusCode = 401;
        res.end();
      });
    });
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT, allowedOrigins: [api.url] });
      const chunks = Array.from({ length: 64 }, () => new Uint8Array(16384));
      const body = new ReadableStream({
        pull(controller) {
          const next = chunks.pop();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const response = await client.fetch(`${api.url}/upload`, { method: 'POST', body, duplex: 'half' });
      assert.equal(response.status, 401);
      assert.deepEqual(received, [64 * 16384]);
      assert.equal((await mock.stats()).token_requests, 1);
      client.close();
    } finally {
      api.close();
    }
  }));
