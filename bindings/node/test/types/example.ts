// Compiled with tsc --strict (npm run typecheck): what a TypeScript user writes.
import { createServer } from 'node:http';
import { Client, SigmaAuthError, signEmbedUrl, type SigmaEvent, type Token } from 'sigma-auth';
import sigmaAuth from 'sigma-auth';

const client = new Client({
  endpoint: process.env.SIGMA_BASE_URL ?? 'aws-us-east',
  clientId: process.env.SIGMA_CLIENT_ID ?? '',
  clientSecret: process.env.SIGMA_CLIENT_SECRET ?? '',
  timeout: 10_000,
  onEvent: (event: SigmaEvent) => {
    if (event.warning) console.warn(event.kind, event.status, event.message);
  },
});
const fromEnv: Client = sigmaAuth.Client.fromEnv({
  tokenCache: '/tmp/sigma-cache',
  tokenStore: 'rediss://cache.internal:6380/1',
});
const person: Promise<Client> = Client.fromLogin('work');

async function members(): Promise<unknown> {
  const token: Token = await client.token();
  const expires: Date = token.expiresAt;
  console.log(token.tokenType, expires.toISOString(), token.serial);
  const response = await client.fetch('https://aws-api.sigmacomputing.com/v2/members', { method: 'GET' });
  if (response.status === 401) client.invalidate(token);
  return response.json();
}

async function asUser(email: string): Promise<string> {
  const user = client.impersonate(email, { tenant: null });
  try {
    return (await user.token()).accessToken;
  } catch (error) {
    if (error instanceof SigmaAuthError && error.code === 'FORBIDDEN') return '';
    throw error;
  } finally {
    user.close();
  }
}

// An embed page for a signed-in user of this portal.
createServer((req, res) => {
  const url = signEmbedUrl('https://app.sigmacomputing.com/my-org/workbook/w-1', 'embed-client', 'embed-secret', {
    email: 'viewer@example.com',
    ttl: 600,
    teams: ['Sales'],
    account_type: 'viewer',
  });
  res.end(`<iframe src="${url}"></iframe>`);
  void req;
});

const stats = client.stats();
const served: number = stats.tokensServed;
void members;
void asUser;
void served;
void fromEnv;
void person;
