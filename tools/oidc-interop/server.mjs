// An OAuth server nobody here wrote (npm's oidc-provider) behind the two
// things Sigma's API adds: `GET /v2/whoami`, which answers 401 with
// `WWW-Authenticate: Bearer resource_metadata=...` without a valid token
// (RFC 9728), and the protected-resource metadata naming the issuer. For the
// interop tests: dynamic registration, PKCE, rotating refresh tokens, and
// revocation are oidc-provider's own. The person is approved at once (as
// `interop@example.com`): the browser is a script with a cookie jar.
//
//   node server.mjs            prints its base URL, serves until stdin closes
//   GET /__stats               what the server saw (JSON)
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const stats = { refreshes: 0, codes: 0, revocations: 0, registrations: 0, reuses: 0 };

const provider = new Provider(base, {
  clients: [],
  scopes: ['api:access', 'mcp:access'],
  features: {
    registration: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
  },
  pkce: { required: () => true },
  // Every sign-in gets a refresh token, rotated at each use (oidc-provider's
  // default for public clients).
  issueRefreshToken: async () => true,
  ttl: { AccessToken: Number(process.env.INTEROP_ACCESS_TOKEN_TTL || 3600) },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: id }) }),
});
provider.proxy = false;
provider.on('grant.success', (ctx) => {
  const grant = ctx.oidc.params.grant_type;
  if (grant === 'refresh_token') stats.refreshes += 1;
  if (grant === 'authorization_code') stats.codes += 1;
});
provider.on('grant.error', (ctx, error) => {
  if (ctx.oidc.params.grant_type === 'refresh_token' && error.error === 'invalid_grant') stats.reuses += 1;
});
provider.on('registration_create.success', () => { stats.registrations += 1; });

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const callback = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (url.pathname === '/v2/whoami') {
      const auth = req.headers.authorization || '';
      const token = auth.startsWith('Bearer ') ? await provider.AccessToken.find(auth.slice(7)) : undefined;
      if (!token) {
        return json(res, 401, { message: 'Unauthorized' }, {
          'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource", scope="api:access"`,
        });
      }
      return json(res, 200, { email: token.accountId, scope: token.scope });
    }
    if (url.pathname === '/.well-known/oauth-protected-resource') {
      return json(res, 200, { resource: base, authorization_servers: [base], scopes_supported: ['api:access'] });
    }
    if (url.pathname === '/__stats') return json(res, 200, stats);
    if (url.pathname === '/token/revocation' && req.method === 'POST') stats.revocations += 1;
    if (url.pathname.startsWith('/interaction/')) {
      // The person approves at once: signed in, and every scope asked granted.
      const details = await provider.interactionDetails(req, res);
      const accountId = 'interop@example.com';
      let { grantId } = details;
      const grant = grantId ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      grantId = await grant.save();
      return await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } });
    }
    return callback(req, res);
  } catch (error) {
    return json(res, 500, { message: String(error) });
  }
});

process.stdout.write(`${base}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
