// The Node.js rows of `make bench`: sigma-auth side by side with simple-oauth2
// (its client-credentials flow, with its own expired() check), against the mock.
//   node bench/node/bench.mjs cached URL CALLS
//   node bench/node/bench.mjs fresh URL TOKENS
// Prints one JSON line per measurement (bench/report.py reads them).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../../bindings/node/package.json', import.meta.url)));
const { Client } = require('./index.js');
const { ClientCredentials } = require('simple-oauth2');

const [mode, url, countText] = process.argv.slice(2);
const count = Number(countText);
const emit = (row) => console.log(JSON.stringify({ lang: 'node', ...row }));
const now = () => process.hrtime.bigint();

const ours = () => new Client({ endpoint: url, clientId: 'demo-client', clientSecret: 'demo-secret' });
const theirs = () =>
  new ClientCredentials({
    client: { id: 'demo-client', secret: 'demo-secret' },
    auth: { tokenHost: url, tokenPath: '/v2/auth/token' },
    options: { authorizationMethod: 'body' },
  });
// simple-oauth2's documented pattern: keep the AccessToken, check expired(window).
const WINDOW = 300;

async function perCall(fn, calls) {
  for (let i = 0; i < Math.min(calls, 10000); i++) await fn(); // warm up (JIT)
  const start = now();
  for (let i = 0; i < calls; i++) await fn();
  return Number(now() - start) / calls;
}

function perCallSync(fn, calls) {
  for (let i = 0; i < Math.min(calls, 10000); i++) fn();
  const start = now();
  let sink = 0;
  for (let i = 0; i < calls; i++) sink += fn().length;
  if (sink === 0) throw new Error('no tokens');
  return Number(now() - start) / calls;
}

function pct(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

if (mode === 'cached') {
  const client = ours();
  await client.token();
  emit({ suite: 'cached', impl: 'sigma-auth await client.token()', threads: 1, ns_per_call: await perCall(() => client.token(), count) });
  emit({ suite: 'cached', impl: 'sigma-auth client.accessToken', threads: 1, ns_per_call: perCallSync(() => client.accessToken, count) });
  client.close();

  const oauth = theirs();
  let token = await oauth.getToken({});
  const get = async () => {
    if (token.expired(WINDOW)) token = await oauth.getToken({});
    return token;
  };
  emit({ suite: 'cached', impl: 'simple-oauth2 await get() (expired() check)', threads: 1, ns_per_call: await perCall(get, count) });
  const getSync = () => {
    if (token.expired(WINDOW)) throw new Error('expired in a benchmark');
    return token.token.access_token;
  };
  emit({ suite: 'cached', impl: 'simple-oauth2 expired() + access_token', threads: 1, ns_per_call: perCallSync(getSync, count) });
} else if (mode === 'fresh') {
  const run = async (name, next) => {
    for (let i = 0; i < 20; i++) await next(); // warm up, and the connection kept alive
    const times = [];
    const start = now();
    for (let i = 0; i < count; i++) {
      const t0 = now();
      await next();
      times.push(Number(now() - t0));
    }
    const elapsed = Number(now() - start);
    times.sort((a, b) => a - b);
    emit({ suite: 'fresh', name, tokens: count, tokens_per_sec: count / (elapsed / 1e9), p50_ns: pct(times, 0.5), p99_ns: pct(times, 0.99) });
  };
  const client = ours();
  let held = await client.token();
  await run('sigma-auth Client: token + invalidate (Node.js, kept-alive)', async () => {
    client.invalidate(held);
    held = await client.token();
  });
  client.close();
  const oauth = theirs();
  await run('simple-oauth2 ClientCredentials getToken (Node.js, kept-alive)', () => oauth.getToken({}));
} else {
  throw new Error(`unknown mode ${mode}`);
}
