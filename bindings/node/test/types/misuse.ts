// Mistakes the types catch (each line must fail to compile: @ts-expect-error
// fails the build if it does not).
import { Client, signEmbedUrl } from 'sigma-auth';

// @ts-expect-error the secret is required
new Client({ endpoint: 'aws-us-east', clientId: 'id' });
// @ts-expect-error timeouts are numbers of ms
new Client({ endpoint: 'aws-us-east', clientId: 'id', clientSecret: 's', timeout: '10s' });
// @ts-expect-error email is required for an embed URL
signEmbedUrl('https://app.sigmacomputing.com/o/workbook/w', 'c', 's', { ttl: 60 });
const client = new Client({ endpoint: 'aws-us-east', clientId: 'id', clientSecret: 's' });
// @ts-expect-error token() is a Promise: await it
client.token().accessToken;
// @ts-expect-error accessToken is read-only
client.accessToken = 'x';
