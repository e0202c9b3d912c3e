// Types of the npm package sigma-auth (index.js and index.mjs).

/** The C library's status names, plus `CLOSED` and `NO_TOKEN` (this package's own). */
export type StatusCode =
  | 'INVALID_ARGUMENT'
  | 'INSECURE_URL'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'INVALID_CLIENT'
  | 'INVALID_GRANT'
  | 'RATE_LIMITED'
  | 'SERVER'
  | 'HTTP'
  | 'PROTOCOL'
  | 'INTERNAL'
  | 'FORBIDDEN'
  | 'LOGIN_REQUIRED'
  | 'LOGIN_DENIED'
  | 'LOGIN_UNAVAILABLE'
  | 'CLOSED'
  | 'NO_TOKEN';

/** Every failure of this package. Never holds a secret or a token. */
export declare class SigmaAuthError extends Error {
  readonly name: 'SigmaAuthError';
  /** A stable name: the C status (`'INVALID_CLIENT'`, ...), or `'CLOSED'`, `'NO_TOKEN'`. */
  readonly code: StatusCode;
  /** The HTTP status of the response concerned, if any. */
  readonly httpStatus: number | null;
  /** Sigma's `requestId` from the response concerned, if any. */
  readonly requestId: string | null;
  constructor(code: StatusCode, message: string, details?: { httpStatus?: number | null; requestId?: string | null });
}

/** A token. `accessToken` is never shown by `util.inspect` or `JSON.stringify`. */
export declare class Token {
  private constructor();
  /** The token's text, for `Authorization: Bearer ...`. */
  readonly accessToken: string;
  /** `'bearer'`, as Sigma answers. */
  readonly tokenType: string;
  /** A new Date on each read. */
  readonly expiresAt: Date;
  /** Seconds until it expires (negative once expired). */
  readonly expiresIn: number;
  /** Identifies the token within this process (one per token obtained). */
  readonly serial: number;
  toJSON(): { tokenType: string; expiresAt: string; serial: number };
}

/** One thing that happened inside a client (for logs and metrics). Holds no secret or token. */
export interface SigmaEvent {
  readonly kind:
    | 'TOKEN_OBTAINED'
    | 'REFRESH_STARTED'
    | 'REFRESH_FAILED'
    | 'RETRY_SCHEDULED'
    | 'FALLBACK_TO_CLIENT_CREDENTIALS'
    | 'INVALIDATED'
    | 'CACHE_HIT'
    | 'CACHE_BYPASSED'
    | 'STORE_HIT'
    | 'STORE_UNAVAILABLE'
    | (string & {});
  /** Whether it is worth a warning in a log (a failure, a retry, a fallback, the cache bypassed, the store unavailable). */
  readonly warning: boolean;
  readonly grant?: 'client_credentials' | 'refresh_token' | 'token_exchange' | (string & {});
  readonly status?: StatusCode;
  readonly httpStatus?: number;
  readonly requestId?: string;
  readonly message?: string;
  readonly attempt: number;
  readonly waitMs?: number;
  readonly durationMs?: number;
  readonly serial?: number;
  readonly expiresInS?: number;
  readonly background: boolean;
}

/** Settings shared by every way of making a client. */
export interface CommonOptions {
  /** A private directory (0700) in which processes of this user share tokens. */
  tokenCache?: string;
  /**
   * A Redis URL (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS)
   * through which hosts share tokens. Redis down never fails a call (a
   * `STORE_UNAVAILABLE` event says why); no error repeats the URL.
   */
  tokenStore?: string;
  /** Overall deadline of one token request, retries included, in ms (default 30000). */
  timeout?: number;
  /** Connect timeout in ms (default 10000). */
  connectTimeout?: number;
  /** Attempts per token request (default 3). */
  maxAttempts?: number;
  /** A PEM file of certificates to trust besides the system's. */
  caFile?: string;
  /** Origins (`https://host[:port]`) besides the API's to which `fetch` may send the token. */
  allowedOrigins?: string[];
  /** Appended to the User-Agent, e.g. `'my-portal/1.2'`. */
  userAgentSuffix?: string;
  /** Called on the event loop for each event; never keeps the process alive. */
  onEvent?: (event: SigmaEvent) => void;
}

export interface ClientOptions extends CommonOptions {
  /** Sigma's API base URL (`https://aws-api.sigmacomputing.com`) or a cloud name (`'aws-us-east'`). */
  endpoint: string;
  clientId: string;
  clientSecret: string;
}

/** A client's counters since it was made. */
export interface ClientStats {
  tokensServed: number;
  clientCredentialsOk: number;
  clientCredentialsFailed: number;
  refreshTokenOk: number;
  refreshTokenFailed: number;
  tokenExchangeOk: number;
  tokenExchangeFailed: number;
  backgroundRefreshes: number;
  retries: number;
  cacheHits: number;
  invalidations: number;
  lastSuccessUnixMs: number;
  lastFailureUnixMs: number;
}

/**
 * Keeps a Sigma API token fresh. `token()` returns the cached token without
 * touching the network; near expiry one background refresh runs; when no usable
 * token exists, one request is made however many callers wait. No network wait
 * ever runs on the event loop.
 */
export declare class Client {
  constructor(options: ClientOptions);
  /** From SIGMA_BASE_URL, SIGMA_CLIENT_ID, SIGMA_CLIENT_SECRET (and the other SIGMA_* settings). */
  static fromEnv(options?: CommonOptions): Client;
  /** From a person's stored sign-in (`sigma-token login [--profile NAME]`), read off the event loop. */
  static fromLogin(profile?: string, options?: CommonOptions): Promise<Client>;
  /** A token valid for at least 10 more seconds (a tenth of its lifetime for tokens shorter than 100 s). */
  token(): Promise<Token>;
  /** The cached token's text; throws `SigmaAuthError` `'NO_TOKEN'` when none is usable yet. */
  readonly accessToken: string;
  /**
   * `fetch` with the bearer token for the client's origins only (redirects are followed one hop at a
   * time; `Authorization`, `Cookie` and `Proxy-Authorization` never cross to another origin); one
   * retry per call after a 401. Bound: it can be handed on as a plain `fetch`.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Reports a token refused with 401: dropped if still current, so a burst of 401s makes one fetch. */
  invalidate(token: Token | string): void;
  /** A client whose tokens are `email`'s (Sigma's token exchange; this client's credentials must be an admin's). */
  impersonate(email: string, options?: { tenant?: string | null }): Client;
  /** Whether a request to `url` may carry this client's token. */
  allowsOrigin(url: string | URL): boolean;
  stats(): ClientStats;
  /** Releases the client: later calls fail with `'CLOSED'`. */
  close(): void;
  readonly closed: boolean;
  toJSON(): { client: string; closed: boolean };
}

/** Claims of an embed user besides `email` and `ttl`: `first_name`, `teams`, `user_attributes`, `account_type`, ... */
export interface EmbedOptions {
  /** The user's email (the `sub` claim). */
  email: string;
  /** Seconds the URL is valid (default 3600, at most 30 days). */
  ttl?: number;
  [claim: string]: unknown;
}

/** `url` with `:jwt=<HS256 token>&:embed=true` appended, signed with the embed secret. */
export declare function signEmbedUrl(url: string, embedClientId: string, embedSecret: string, options: EmbedOptions): string;

/** A warehouse OAuth token encrypted for the `oauth_token` claim, as Sigma's Node embed SDK does. */
export declare function encryptOAuthToken(oauthToken: string, embedSecret: string): string;

/** The C library's status names in the order of their values (1 = `'INVALID_ARGUMENT'`). */
export declare const STATUS_NAMES: readonly StatusCode[];

declare const sigmaAuth: {
  Client: typeof Client;
  Token: typeof Token;
  SigmaAuthError: typeof SigmaAuthError;
  signEmbedUrl: typeof signEmbedUrl;
  encryptOAuthToken: typeof encryptOAuthToken;
  STATUS_NAMES: typeof STATUS_NAMES;
};
export default sigmaAuth;
