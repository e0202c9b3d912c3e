'use strict';
// A cluster of WORKERS processes (node:cluster) sharing one token cache: each
// worker asks for a token every 20 ms for SECONDS and reports a digest of every
// token it was given (never the token itself).
const cluster = require('node:cluster');
const { createHash } = require('node:crypto');
const { Client } = require('../..');

const { MOCK_URL, TOKEN_CACHE } = process.env;
const WORKERS = Number(process.env.WORKERS || 4);
const SECONDS = Number(process.env.SECONDS || 8);

if (cluster.isPrimary) {
  const seen = new Set();
  let done = 0;
  for (let i = 0; i < WORKERS; i++) {
    cluster.fork().on('message', (digests) => {
      for (const d of digests) seen.add(d);
      if (++done === WORKERS) {
        process.stdout.write(`${JSON.stringify({ workers: done, distinct: seen.size })}\n`);
      }
    });
  }
} else {
  const client = new Client({ endpoint: MOCK_URL, clientId: 'demo-client', clientSecret: 'demo-secret', tokenCache: TOKEN_CACHE });
  const digests = new Set();
  const end = Date.now() + SECONDS * 1000;
  (async () => {
    while (Date.now() < end) {
      const token = await client.token();
      digests.add(createHash('sha256').update(token.accessToken).digest('hex'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    client.close();
    process.send([...digests], () => process.exit(0));
  })();
}
