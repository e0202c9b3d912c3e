// Gets a Sigma API token with sigma-auth and calls whoami with it.
//
// Credentials come from SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
// SIGMA_CLIENT_SECRET. Install first: npm install sigma-auth
'use strict';

const { Client, SigmaAuthError } = require('sigma-auth');

async function main() {
  const client = Client.fromEnv();
  try {
    const token = await client.token();
    console.log(`Got a ${token.tokenType} token valid for ${Math.round(token.expiresIn)} s (until ${token.expiresAt.toISOString()}).`);
    console.log(`Authorization: Bearer <${token.accessToken.length} characters>`);
    const base = process.env.SIGMA_BASE_URL;
    if (base.startsWith('http')) {
      const whoami = await client.fetch(`${base.replace(/\/$/, '')}/v2/whoami`);
      console.log(`GET /v2/whoami: ${whoami.status}`);
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(error instanceof SigmaAuthError ? `sigma-auth: ${error.code}: ${error.message}` : error);
  process.exitCode = 1;
});
