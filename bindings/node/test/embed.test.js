'use strict';
// Embed URLs, checked by an independent JWT library (jose).

const test = require('node:test');
const assert = require('node:assert/strict');
const { signEmbedUrl, encryptOAuthToken, SigmaAuthError } = require('..');

const SECRET = 'embed-secret-5b1f0e2a9c';
const URL_BASE = 'https://app.sigmacomputing.com/my-org/workbook/w-1';

test('signEmbedUrl: an HS256 JWT that jose verifies, with the claims given', async () => {
  const { jwtVerify, decodeProtectedHeader } = await import('jose');
  const signed = signEmbedUrl(`${URL_BASE}?:theme=dark#top`, 'embed-client-1', SECRET, {
    email: 'viewer@example.com',
    ttl: 600,
    teams: ['Sales'],
    account_type: 'viewer',
  });
  const url = new URL(signed);
  assert.equal(url.hash, '#top');
  assert.equal(url.searchParams.get(':embed'), 'true');
  assert.equal(url.searchParams.get(':theme'), 'dark');
  const jwt = url.searchParams.get(':jwt');
  assert.equal(decodeProtectedHeader(jwt).kid, 'embed-client-1');
  const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
  assert.equal(payload.sub, 'viewer@example.com');
  assert.equal(payload.iss, 'embed-client-1');
  assert.deepEqual(payload.teams, ['Sales']);
  assert.equal(payload.account_type, 'viewer');
  assert.equal(payload.exp - payload.iat, 600);
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 5);
  assert.equal(typeof payload.jti, 'string');
  // Another secret does not verify it.
  await assert.rejects(jwtVerify(jwt, new TextEncoder().encode('another-secret'), { algorithms: ['HS256'] }));
});

test('signEmbedUrl refuses what Sigma would, with clear errors and no secret in them', () => {
  const bad = [
    () => signEmbedUrl(URL_BASE, 'c', SECRET, { email: 'a@b.c', ttl: 0 }),
    () => signEmbedUrl(URL_BASE, 'c', SECRET, { email: 'a@b.c', ttl: 31 * 86400 }),
    () => signEmbedUrl('http://example.com/x', 'c', SECRET, { email: 'a@b.c' }),
    () => signEmbedUrl(URL_BASE, 'c', SECRET, { email: 'a@b.c', exp: 1 }),
    () => signEmbedUrl(URL_BASE, 'c', '', { email: 'a@b.c' }),
  ];
  for (const call of bad) {
    assert.throws(call, (error) => {
      assert.ok(error instanceof SigmaAuthError, String(error));
      assert.ok(['INVALID_ARGUMENT', 'INSECURE_URL'].includes(error.code), error.code);
      assert.ok(!String(error.stack).includes(SECRET));
      return true;
    });
  }
  assert.throws(() => signEmbedUrl(URL_BASE, 'c', SECRET, {}), TypeError);
  assert.throws(() => signEmbedUrl(URL_BASE, 'c', SECRET, { email: 'a@b.c', sub: 'x' }), TypeError);
  assert.throws(() => signEmbedUrl(URL_BASE, 'c', SECRET, { email: 'a@b.c', ttl: 1.5 }), TypeError);
});

test('encryptOAuthToken: what Sigma decrypts (PBKDF2-SHA256 + AES-256-GCM), fresh each time', () => {
  const crypto = require('node:crypto');
  const encrypted = encryptOAuthToken('warehouse-token', SECRET);
  assert.notEqual(encryptOAuthToken('warehouse-token', SECRET), encrypted);
  const [salt, iv, tag, body] = encrypted.split('.').map((part) => Buffer.from(part, 'base64'));
  const key = crypto.pbkdf2Sync(SECRET, salt, 600000, 32, 'sha256');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  assert.equal(Buffer.concat([decipher.update(body), decipher.final()]).toString(), 'warehouse-token');
});
