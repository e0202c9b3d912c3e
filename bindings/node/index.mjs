// The ES module entry point: the same objects as the CommonJS one (index.js).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const sigmaAuth = require('./index.js');

export const { Client, Token, SigmaAuthError, signEmbedUrl, encryptOAuthToken, STATUS_NAMES } = sigmaAuth;
export default sigmaAuth;
