'use strict';
// The Node.js package against the mock Sigma server on loopback.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { inspect } = require('node:util');
const { Client, Token, SigmaAuthError, STATUS_NAMES } = require('..');
const { withMock, startRedis, server, CLIENT } = require('./mock.js');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('a token, and whoami accepts it through client.fetch', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const token = await client.token();
    assert.ok(token instanceof Token);
    assert.equal(token.tokenType.toLowerCase(), 'bearer');
    assert.ok(token.expiresAt instanceof Date);
    assert.ok(token.expiresIn > 3500 && token.expiresIn <= 3600);
    assert.equal(typeof token.serial, 'number');
    assert.equal(client.accessToken, token.accessToken);
    const response = await client.fetch(`${mock.url}/v2/whoami`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).clientId, 'demo-client');
    // Served from the cache: the same token, no other request.
    assert.equal((await client.token()).serial, token.serial);
    assert.equal((await mock.stats()).token_requests, 1);
    client.close();
  }));

test('1000 concurrent token() calls on a cold client make one request', () =>
  withMock([], async (mock) => {
    await mock.faults([{ kind: 'delay', ms: 300 }]);
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.token()));
    assert.equal(new Set(tokens.map((t) => t.serial)).size, 1);
    assert.equal((await mock.stats()).token_requests, 1);
    assert.equal(client.stats().tokensServed, 1000);
    assert.equal(client.stats().clientCredentialsOk, 1);
    client.close();
  }));

test('the event loop keeps ticking while a fetch is held for 1 s', () =>
  withMock([], async (mock) => {
    await mock.faults([{ kind: 'delay', ms: 1000 }]);
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    let last = performance.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 1);
    const started = performance.now();
    await client.token();
    const held = performance.now() - started;
    clearInterval(timer);
    assert.ok(held >= 950, `the fetch was held ${held} ms`);
    assert.ok(ticks > 100, `only ${ticks} ticks in ${held} ms`);
    assert.ok(maxGap < 50, `the event loop stalled for ${maxGap} ms`);
    client.close();
  }));

test('a due token is refreshed in the background while callers keep the current one', () =>
  withMock(['--expires-in', '4'], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const first = await client.token();
    // Due after half its life (2 s); the refresh request is held 1 s.
    await mock.faults([{ kind: 'delay', ms: 1000 }]);
    await sleep(2300);
    const during = await client.token();
    assert.equal(during.serial, first.serial, 'no caller waits for the refresh');
    let fresh = during;
    for (let i = 0; i < 40 && fresh.serial === first.serial; i++) {
      await sleep(50);
      fresh = await client.token();
    }
    assert.notEqual(fresh.serial, first.serial);
    const stats = client.stats();
    assert.equal(stats.backgroundRefreshes, 1);
    assert.equal((await mock.stats()).token_requests, 2);
    client.close();
  }));

test('a wrong secret is INVALID_CLIENT, and the secret is nowhere', () =>
  withMock([], async (mock) => {
    const secret = 'a-wrong-secret-7f3a9c';
    const client = new Client({ endpoint: mock.url, clientId: 'demo-client', clientSecret: secret });
    const error = await client.token().then(
      () => assert.fail('resolved'),
      (e) => e,
    );
    assert.ok(error instanceof SigmaAuthError);
    assert.ok(error instanceof Error);
    assert.equal(error.code, 'INVALID_CLIENT');
    assert.equal(error.httpStatus, 401);
    assert.equal(typeof error.requestId, 'string');
    const shown = [
      inspect(error, { showHidden: true, depth: 10 }),
      JSON.stringify(error),
      String(error.stack),
      inspect(client, { showHidden: true, depth: 10 }),
      JSON.stringify(client),
      String(client),
    ];
    for (const text of shown) assert.ok(!text.includes(secret), `the secret is in ${text}`);
    // Nor any encoding of it the server could echo.
    for (const encoded of [Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]) {
      for (const text of shown) assert.ok(!text.includes(encoded));
    }
    assert.ok(STATUS_NAMES.includes(error.code));
    client.close();
  }));

test('a token is never shown by inspect, JSON or String', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const token = await client.token();
    for (const text of [inspect(token, { showHidden: true }), JSON.stringify(token), String(token), inspect({ token })]) {
      assert.ok(!text.includes(token.accessToken), text);
    }
    assert.deepEqual(Object.keys(token).sort(), ['serial', 'tokenType']);
    client.close();
  }));

test('client.fetch never sends the token to another origin, redirects included', () =>
  withMock([], async (mock) => {
    const other = await server('127.0.0.2');
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT });
      // Directly.
      await (await client.fetch(`${other.url}/direct`)).text();
      // Through a redirect from the API's origin, with every redirect status.
      for (const status of [301, 302, 303, 307, 308]) {
        const location = encodeURIComponent(`${other.url}/redirected-${status}`);
        const response = await client.fetch(`${mock.url}/v2/redirect?status=${status}&location=${location}`, {
          method: status >= 307 ? 'POST' : 'GET',
          body: status >= 307 ? 'payload' : undefined,
        });
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), { ok: true });
      }
      // A caller's own Authorization does not follow the redirect either.
      const location = encodeURIComponent(`${other.url}/own`);
      await client.fetch(`${mock.url}/v2/redirect?location=${location}`, { headers: { authorization: 'Bearer mine' } });
      assert.equal(other.seen.length, 7);
      for (const request of other.seen) assert.equal(request.headers.authorization, undefined, request.url);
      const post = other.seen.find((r) => r.url === '/redirected-307');
      assert.equal(post.method, 'POST');
      // The same origin does get it: the echo shows the header.
      const echoed = await (await client.fetch(`${mock.url}/v2/echo`)).json();
      const auth = echoed.headers.find(([name]) => name === 'authorization');
      assert.equal(auth[1], `Bearer ${client.accessToken}`);
      // redirect: 'manual' returns the redirect itself.
      const manual = await client.fetch(`${mock.url}/v2/redirect?location=${location}`, { redirect: 'manual' });
      assert.equal(manual.status, 302);
      client.close();
    } finally {
      other.close();
    }
  }));

test('allowedOrigins lets the token go to an origin named, and only there', () =>
  withMock([], async (mock) => {
    const gateway = await server('127.0.0.2');
    const stranger = await server('127.0.0.3');
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT, allowedOrigins: [gateway.url] });
      await (await client.fetch(`${gateway.url}/x`)).text();
      await (await client.fetch(`${stranger.url}/x`)).text();
      assert.equal(gateway.seen[0].headers.authorization, `Bearer ${client.accessToken}`);
      assert.equal(stranger.seen[0].headers.authorization, undefined);
      assert.equal(client.allowsOrigin(mock.url), true);
      assert.equal(client.allowsOrigin(`${stranger.url}/x`), false);
      client.close();
    } finally {
      gateway.close();
      stranger.close();
    }
  }));

test('a 401 drops the token and client.fetch retries once with a new one', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const first = await client.token();
    await mock.expire(); // the server no longer accepts the token
    const response = await client.fetch(`${mock.url}/v2/whoami`);
    assert.equal(response.status, 200);
    const second = await client.token();
    assert.notEqual(second.serial, first.serial);
    assert.equal(client.stats().invalidations, 1);
    assert.equal((await mock.stats()).token_requests, 2);
    // invalidate() with a token no longer current changes nothing.
    client.invalidate(first);
    assert.equal((await client.token()).serial, second.serial);
    // With the text, as from a header.
    client.invalidate(second.accessToken);
    assert.notEqual((await client.token()).serial, second.serial);
    client.close();
  }));

test('after close(), every call fails with CLOSED and nothing is sent', () =>
  withMock([], async (mock) => {
    const api = await server('127.0.0.1');
    try {
      const client = new Client({ endpoint: mock.url, ...CLIENT, allowedOrigins: [api.url] });
      await client.token();
      client.close();
      client.close(); // twice is fine
      await assert.rejects(client.token(), { name: 'SigmaAuthError', code: 'CLOSED' });
      await assert.rejects(client.fetch(`${api.url}/v2/whoami`), { code: 'CLOSED' });
      // Not even to an origin that would never get the token.
      await assert.rejects(client.fetch('http://127.0.0.9:9/x'), { code: 'CLOSED' });
      assert.throws(() => client.accessToken, { code: 'CLOSED' });
      assert.throws(() => client.stats(), { code: 'CLOSED' });
      assert.throws(() => client.impersonate('someone@example.com'), { code: 'CLOSED' });
      assert.equal(api.seen.length, 0);
      assert.equal((await mock.stats()).token_requests, 1);
      assert.equal(client.closed, true);
    } finally {
      api.close();
    }
  }));

test('a close during a cold fetch lets it settle, then nothing more is sent', () =>
  withMock([], async (mock) => {
    await mock.faults([{ kind: 'delay', ms: 300 }]);
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    const pending = client.token();
    client.close();
    await pending.then(
      (token) => assert.ok(token instanceof Token),
      (error) => assert.equal(error.code, 'CLOSED'),
    );
    await assert.rejects(client.fetch(`${mock.url}/v2/echo`), { code: 'CLOSED' });
  }));

test('accessToken throws NO_TOKEN before the first token, then reads the cache', () =>
  withMock([], async (mock) => {
    const client = new Client({ endpoint: mock.url, ...CLIENT });
    assert.throws(() => client.accessToken, { name: 'SigmaAuthError', code: 'NO_TOKEN' });
    const token = await client.token();
    assert.equal(client.accessToken, token.accessToken);
    client.close();
  }));

test('bad options are TypeErrors or INVALID_ARGUMENT / INSECURE_URL, never a crash', () => {
  assert.throws(() => new Client(), TypeError);
  assert.throws(() => new Client({ endpoint: 'https://x', clientId: 'a' }), TypeError);
  assert.throws(() => new Client({ endpoint: 'https://x', ...CLIENT, clientSecrets: 'typo' }), /unknown option/);
  assert.throws(() => new Client({ endpoint: 'https://x', ...CLIENT, timeout: 'soon' }), TypeError);
  assert.throws(() => new Client({ endpoint: 'not a url', ...CLIENT }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => new Client({ endpoint: 'http://example.com', ...CLIENT }), { code: 'INSECURE_URL' });
  assert.throws(() => new Client({ endpoint: 'https://example.com', ...CLIENT, timeout: -1 }), {
    code: 'INVALID_ARGUMENT',
  });
  assert.throws(() => new Client({ endpoint: 'https://example.com', clientId: 'a\0b', clientSecret: 's' }), {
    code: 'INVALID_ARGUMENT',
  });
  assert.throws(() => new Client({ endpoint: 'https://example.com', ...CLIENT, allowedOrigins: ['ftp://x'] }), {
    code: 'INVALID_ARGUMENT',
  });
  assert.throws(() => new Token('x', {}), TypeError);
});

test('a bad tokenStore is INVALID_ARGUMENT, and neither it nor a good one ever shows the password', () => {
  const good = new Client({ endpoint: 'https://example.com', ...CLIENT, tokenStore: 'redis://u:hunter2@127.0.0.1:1/2' });
  for (const text of [String(good), inspect(good), JSON.stringify(good)]) assert.ok(!text.includes('hunter2'), text);
  good.close();
  for (const bad of ['http://u:hunter2@h', 'redis://u:hunter2@h/notadb', 'redis://:hunter2@h?insecure']) {
    const error = (() => {
      try {
        new Client({ endpoint: 'https://example.com', ...CLIENT, tokenStore: bad });
      } catch (e) {
        return e;
      }
      return assert.fail(`${bad} was accepted`);
    })();
    assert.ok(error instanceof SigmaAuthError, String(error));
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.match(error.message, /token store URL/);
    for (const text of [error.message, String(error), inspect(error), JSON.stringify(error), error.stack]) {
      assert.ok(!text.includes('hunter2'), text);
    }
  }
  assert.throws(() => new Client({ endpoint: 'https://example.com', ...CLIENT, tokenStore: 42 }), TypeError);
});

test('clients share tokens through the token store', () =>
  withMock([], async (mock) => {
    const redis = await startRedis();
    try {
      const token = async (tokenStore) => {
        const client = new Client({ endpoint: mock.url, ...CLIENT, ...(tokenStore ? { tokenStore } : {}) });
        try {
          return (await client.token()).accessToken;
        } finally {
          client.close();
        }
      };
      // Two clients share nothing in memory: only the store.
      assert.equal(await token(redis.url), await token(redis.url));
      assert.deepEqual((await mock.stats()).by_grant, { client_credentials: 1 });
      await token(undefined);
      assert.deepEqual((await mock.stats()).by_grant, { client_credentials: 2 });
    } finally {
      redis.stop();
    }
  }));

test('a network failure is NETWORK or TIMEOUT within the deadline', async () => {
  const listener = http.createServer();
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = listener.address().port;
  listener.close();
  const client = new Client({ endpoint: `http://127.0.0.1:${port}`, ...CLIENT, timeout: 1500 });
  const error = await client.token().then(assert.fail, (e) => e);
  assert.ok(['NETWORK', 'TIMEOUT'].includes(error.code), error.code);
  client.close();
});

test('onEvent sees the token obtained, and a throwing handler is only a warning', () =>
  withMock([], async (mock) => {
    const events = [];
    const client = new Client({
      endpoint: mock.url,
      ...CLIENT,
      onEvent: (event) => {
        events.push(event);
        throw new Error('handler bug');
      },
    });
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    const token = await client.token();
    for (let i = 0; i < 50 && !events.some((e) => e.kind === 'TOKEN_OBTAINED'); i++) await sleep(10);
    process.off('warning', onWarning);
    const obtained = events.find((e) => e.kind === 'TOKEN_OBTAINED');
    assert.ok(obtained, JSON.stringify(events));
    assert.equal(obtained.serial, token.serial);
    assert.equal(obtained.grant, 'client_credentials');
    assert.ok(!JSON.stringify(events).includes(token.accessToken));
    assert.ok(warnings.some((w) => /onEvent handler threw/.test(w.message)));
    client.close();
  }));

test('impersonate: a user token, shared by clients for the same user', () =>
  withMock(['--admin-user', 'admin@example.com', '--user', 'viewer@example.com'], async (mock) => {
    const admin = new Client({ endpoint: mock.url, ...CLIENT });
    const viewer = admin.impersonate('viewer@example.com');
    const again = admin.impersonate('viewer@example.com');
    const who = await (await viewer.fetch(`${mock.url}/v2/whoami`)).json();
    assert.equal(who.email, 'viewer@example.com');
    assert.equal((await again.token()).serial, (await viewer.token()).serial);
    assert.equal((await mock.stats()).by_grant.client_credentials, 1);
    assert.match(inspect(viewer), /acting as "viewer@example.com"/);
    viewer.close();
    again.close();
    admin.close();
  }));

test('many users fetched at once wait on a few threads, not one each', () =>
  withMock(['--token-delay-ms', '100'], async (mock) => {
    const { readFileSync } = require('node:fs');
    const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    const admin = new Client({ endpoint: mock.url, ...CLIENT });
    await admin.token();
    const before = threads();
    const users = Array.from({ length: 40 }, (_, i) => admin.impersonate(`user${i}@example.com`));
    let most = before;
    const sampler = setInterval(() => (most = Math.max(most, threads())), 5);
    const tokens = await Promise.all(users.map((user) => user.token()));
    clearInterval(sampler);
    assert.equal(new Set(tokens.map((t) => t.serial)).size, 40);
    const stats = await mock.stats();
    assert.equal(Object.keys(stats.exchanges_by_subject).length, 40);
    assert.equal(stats.by_grant['urn:ietf:params:oauth:grant-type:token-exchange'], 40);
    // One client id at one endpoint: the pool runs 4 of its fetches at once
    // (PER_KEY in src/pool.rs), however fast they come; the core adds its own
    // few (timer, refresher).
    assert.ok(most - before <= 4 + 4, `${most - before} threads were started for 40 users`);
    for (const user of users) user.close();
    admin.close();
  }));
