'use strict';
// sigma-auth for Node.js: a thin layer over the Rust core's Node-API module
// (native.js). Everything here is bookkeeping the event loop can afford: the
// network is only ever waited on by the core's threads.

const { inspect } = require('node:util');
const { performance } = require('node:perf_hooks');
const native = require('./native.js');

const INSPECT = inspect.custom;
// The top bit of the published word's high half: the token's refresh is due.
const DUE_HI = 0x80000000;
// performance.now() and the core's CLOCK_MONOTONIC differ by a constant
// (both count from the same monotonic clock), measured once.
const CLOCK_OFFSET = native.monotonicMs() - performance.now();
const INTERNAL = Symbol('sigma-auth internal');

/** The stable status names of the C library, by value (1 = INVALID_ARGUMENT, ...). */
const STATUS_NAMES = Object.freeze(native.statusNames());

/**
 * Every failure of this package. `code` is the C status name (`'INVALID_CLIENT'`,
 * `'TIMEOUT'`, ...) or `'CLOSED'` (the client was closed) or `'NO_TOKEN'`
 * (`accessToken` read while no usable token is cached). Never holds a secret
 * or a token.
 */
class SigmaAuthError extends Error {
  constructor(code, message, { httpStatus = null, requestId = null } = {}) {
    super(message);
    this.name = 'SigmaAuthError';
    this.code = code;
    this.httpStatus = httpStatus;
    this.requestId = requestId;
  }
}

function failed(failure) {
  return new SigmaAuthError(failure.code, failure.message, {
    httpStatus: failure.httpStatus ?? null,
    requestId: failure.requestId ?? null,
  });
}

// The native module throws failures as "CODE\0message\0status\0request id".
function rethrown(error) {
  const parts = typeof error?.message === 'string' ? error.message.split('\0') : [];
  if (parts.length !== 4) return error;
  const [code, message, status, requestId] = parts;
  return new SigmaAuthError(code, message, {
    httpStatus: status ? Number(status) : null,
    requestId: requestId || null,
  });
}

function call(fn) {
  try {
    return fn();
  } catch (error) {
    throw rethrown(error);
  }
}

function closedError() {
  return new SigmaAuthError('CLOSED', 'the client is closed');
}

/** A token. `accessToken` is never shown by `util.inspect` or `JSON.stringify`. */
class Token {
  #accessToken;

  constructor(key, view) {
    if (key !== INTERNAL) throw new TypeError('tokens come from Client.token()');
    this.#accessToken = view.accessToken;
    this.tokenType = view.tokenType;
    this.expiresAt = new Date(view.expiresAtMs);
    this.serial = view.serial;
    Object.freeze(this.expiresAt);
    Object.freeze(this);
  }

  /** The token's text, for `Authorization: Bearer ...`. */
  get accessToken() {
    return this.#accessToken;
  }

  /** Seconds until it expires (may be negative). */
  get expiresIn() {
    return (this.expiresAt.getTime() - Date.now()) / 1000;
  }

  toJSON() {
    return { tokenType: this.tokenType, expiresAt: this.expiresAt.toISOString(), serial: this.serial };
  }

  toString() {
    return `[Token ${this.serial}]`;
  }

  [INSPECT]() {
    return `Token { tokenType: '${this.tokenType}', expiresAt: ${this.expiresAt.toISOString()}, serial: ${this.serial}, accessToken: [hidden] }`;
  }
}

const OPTION_NAMES = new Set([
  'endpoint',
  'clientId',
  'clientSecret',
  'tokenCache',
  'timeout',
  'connectTimeout',
  'maxAttempts',
  'caFile',
  'allowedOrigins',
  'userAgentSuffix',
  'onEvent',
]);

function nativeOptions(source, options, extra) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
  }
  const text = (name) => {
    const value = options[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
    return value;
  };
  const number = (name) => {
    const value = options[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${name} must be a number`);
    return value;
  };
  const origins = options.allowedOrigins;
  if (origins !== undefined && (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string'))) {
    throw new TypeError('allowedOrigins must be an array of strings');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new TypeError('onEvent must be a function');
  }
  return {
    source,
    ...extra,
    tokenCache: text('tokenCache'),
    timeoutMs: number('timeout'),
    connectTimeoutMs: number('connectTimeout'),
    maxAttempts: number('maxAttempts'),
    caFile: text('caFile'),
    allowedOrigins: origins,
    userAgentSuffix: text('userAgentSuffix'),
  };
}

// The handler the core's threads reach through a weak thread-safe function:
// it keeps no process alive and holds nothing but the user's function.
function eventHandler(onEvent) {
  if (!onEvent) return undefined;
  return (event) => {
    try {
      onEvent(Object.freeze(event));
    } catch (error) {
      process.emitWarning(`sigma-auth: the onEvent handler threw: ${error && error.message}`);
    }
  };
}

function isRedirect(status) {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * Keeps a Sigma API token fresh. `token()` returns the cached token without
 * touching the network; near expiry one background refresh runs; when no
 * usable token exists, one request is made however many callers wait.
 */
class Client {
  #native;
  #word; // Uint32Array over the published serial word (little-endian halves)
  #held = null; // { serial, lo, hi, hiDue, until, token, promise }
  #pending = null; // the one cold fetch in flight
  #served = 0;
  #closed = false;
  #description;

  /**
   * @param {object} options `{ endpoint, clientId, clientSecret }` and optionally
   *   `tokenCache` (a directory shared by processes), `timeout` and
   *   `connectTimeout` (ms), `maxAttempts`, `caFile`, `allowedOrigins`,
   *   `userAgentSuffix`, `onEvent`.
   */
  constructor(options, handle) {
    if (options === INTERNAL) {
      this.#start(handle);
      return;
    }
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    for (const name of ['endpoint', 'clientId', 'clientSecret']) {
      if (typeof options[name] !== 'string') throw new TypeError(`${name} must be a string`);
    }
    const extra = { endpoint: options.endpoint, clientId: options.clientId, clientSecret: options.clientSecret };
    this.#start(Client.#create('endpoint', options, extra));
  }

  /** A client from SIGMA_BASE_URL, SIGMA_CLIENT_ID and SIGMA_CLIENT_SECRET (and the other SIGMA_* settings). */
  static fromEnv(options = {}) {
    return new Client(INTERNAL, Client.#create('env', options, {}));
  }

  /** A client for a person's stored sign-in (`sigma-token login [--profile NAME]`). */
  static fromLogin(profile = 'default', options = {}) {
    if (typeof profile !== 'string') throw new TypeError('profile must be a string');
    return new Client(INTERNAL, Client.#create('login', options, { profile }));
  }

  static #create(source, options, extra) {
    const settings = nativeOptions(source, options, extra);
    return call(() => native.NativeClient.create(settings, eventHandler(options.onEvent)));
  }

  #start(handle) {
    this.#native = handle;
    this.#description = handle.description;
    this.#word = new Uint32Array(call(() => handle.word()));
  }

  /**
   * A token valid for at least 10 more seconds. Resolves at once while one is
   * cached (the same settled Promise for every caller of that token).
   * @returns {Promise<Token>}
   */
  token() {
    // The hot path makes no call into native code: the held token is current
    // and not due while the core's published word holds its serial (a new
    // token, an invalidation or the refresh falling due changes the word).
    // Once due, it is served until the deadline the core gave (1 ms steps).
    const held = this.#held;
    if (held !== null) {
      const word = this.#word;
      if (Atomics.load(word, 0) === held.lo) {
        const hi = Atomics.load(word, 1);
        if (hi === held.hi || (hi === held.hiDue && performance.now() < held.until)) {
          this.#served++;
          return held.promise;
        }
      }
    }
    return this.#ask(held);
  }

  #ask(held) {
    if (this.#closed) return Promise.reject(closedError());
    let usable;
    try {
      usable = this.#usable(held);
    } catch (error) {
      return Promise.reject(error);
    }
    if (usable !== null) return usable.promise;
    if (this.#pending === null) {
      const pending = this.#native.fetchToken().then((outcome) => {
        this.#pending = null;
        if (outcome.error) throw failed(outcome.error);
        // Closed meanwhile: the callers waiting get their token, the client keeps none.
        if (this.#closed) return new Token(INTERNAL, outcome.token);
        return this.#hold(outcome.token).token;
      });
      this.#pending = pending;
      return pending;
    }
    this.#served++;
    return this.#pending;
  }

  // The held token if the core says it is still current, else the core's
  // current usable token; null when a request is needed. Never waits.
  #usable(held) {
    if (held !== null) {
      const until = this.#native.freshUntil(held.serial);
      if (until > 0) {
        this.#held = { ...held, until: until - CLOCK_OFFSET };
        this.#served++;
        return held;
      }
    }
    const outcome = this.#native.cached();
    if (outcome.error) throw failed(outcome.error);
    return outcome.token ? this.#hold(outcome.token) : null;
  }

  #hold(view) {
    const token = new Token(INTERNAL, view);
    const serial = view.serial;
    const lo = serial % 0x100000000;
    const hi = Math.floor(serial / 0x100000000);
    const held = {
      serial,
      lo,
      hi,
      hiDue: (hi | DUE_HI) >>> 0,
      until: view.freshUntilMs - CLOCK_OFFSET,
      token,
      promise: Promise.resolve(token),
    };
    this.#held = held;
    return held;
  }

  /**
   * The cached token's text, synchronously, for code that cannot await: throws
   * `SigmaAuthError` with code `'NO_TOKEN'` when no usable token is cached
   * (await `token()` once first).
   */
  get accessToken() {
    const held = this.#held;
    if (held !== null) {
      const word = this.#word;
      if (Atomics.load(word, 0) === held.lo) {
        const hi = Atomics.load(word, 1);
        if (hi === held.hi || (hi === held.hiDue && performance.now() < held.until)) {
          this.#served++;
          return held.token.accessToken;
        }
      }
    }
    if (this.#closed) throw closedError();
    const usable = this.#usable(held);
    if (usable === null) {
      throw new SigmaAuthError('NO_TOKEN', 'no usable token is cached yet: await client.token() first');
    }
    return usable.token.accessToken;
  }

  /**
   * Reports that an API call was refused (401) with this token (a `Token`, or
   * its text): it is dropped only if still current, so a burst of 401s causes
   * one new fetch.
   */
  invalidate(token) {
    if (this.#closed) return;
    if (token instanceof Token) this.#native.invalidateSerial(token.serial);
    else if (typeof token === 'string') this.#native.invalidate(token);
    else throw new TypeError('invalidate takes a Token or its accessToken');
  }

  /**
   * A client whose tokens are `email`'s, obtained with Sigma's token exchange and
   * vouched for by this client's tokens (which must be an admin's). Clients for
   * the same user share one cached token.
   */
  impersonate(email, { tenant } = {}) {
    if (typeof email !== 'string') throw new TypeError('email must be a string');
    if (tenant !== undefined && tenant !== null && typeof tenant !== 'string') {
      throw new TypeError('tenant must be a string');
    }
    if (this.#closed) throw closedError();
    return new Client(INTERNAL, call(() => this.#native.impersonate(email, tenant ?? null)));
  }

  /** The client's counters (tokens served, requests made and failed, ...). */
  stats() {
    if (this.#closed) throw closedError();
    const stats = this.#native.stats();
    if (stats === null) throw closedError();
    return { ...stats, tokensServed: stats.tokensServed + this.#served };
  }

  /** Whether a request to `url` may carry this client's token (its API's origin, or `allowedOrigins`). */
  allowsOrigin(url) {
    if (this.#closed) throw closedError();
    const parsed = url instanceof URL ? url : new URL(String(url));
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
    const port = parsed.port === '' ? null : Number(parsed.port);
    return this.#native.allowsOrigin(parsed.protocol.slice(0, -1), parsed.hostname, port);
  }

  /**
   * `fetch` with the token as `Authorization: Bearer ...` for the client's
   * origins only. Redirects are followed here, one hop at a time, so the token
   * never reaches another origin; a 401 drops the token and retries once.
   * @param {string | URL | Request} input
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fetch(input, init = undefined) {
    if (this.#closed) throw closedError();
    const request = new Request(input, init);
    const mode = request.redirect;
    let method = request.method;
    // Read once, so a retry or a 307/308 can send it again.
    let body = method === 'GET' || method === 'HEAD' ? undefined : await request.arrayBuffer();
    const headers = new Headers(request.headers);
    let url = new URL(request.url);
    let retried = false;
    for (let hops = 0; ; ) {
      let token = null;
      const sent = new Headers(headers);
      if (!headers.has('authorization') && this.allowsOrigin(url)) {
        token = await this.token();
        sent.set('authorization', `Bearer ${token.accessToken}`);
      }
      const response = await globalThis.fetch(url, {
        method,
        headers: sent,
        body,
        redirect: 'manual',
        signal: request.signal,
      });
      if (token !== null && response.status === 401 && !retried) {
        retried = true;
        this.invalidate(token);
        await response.body?.cancel();
        continue;
      }
      if (!isRedirect(response.status) || mode === 'manual') return response;
      if (mode === 'error') {
        await response.body?.cancel();
        throw new TypeError(`fetch failed: redirected (${response.status}) with redirect: 'error'`);
      }
      const location = response.headers.get('location');
      if (location === null) return response;
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') return response;
      if (++hops > 20) {
        await response.body?.cancel();
        throw new TypeError('fetch failed: more than 20 redirects');
      }
      if (response.status === 303 ? method !== 'HEAD' : response.status <= 302 && method === 'POST') {
        method = 'GET';
        body = undefined;
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) {
          headers.delete(name);
        }
      }
      // As the Fetch standard does: a caller's own Authorization stays with its origin.
      if (next.origin !== url.origin) headers.delete('authorization');
      await response.body?.cancel();
      url = next;
      retried = false;
    }
  }

  /** Releases the client: later calls fail with code `'CLOSED'`; fetches in flight settle. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = null;
    this.#native.close();
  }

  get closed() {
    return this.#closed;
  }

  toJSON() {
    return { client: this.#description, closed: this.#closed };
  }

  toString() {
    return `[Client ${this.#description}]`;
  }

  [INSPECT]() {
    return `Client { ${this.#description}${this.#closed ? ', closed' : ''} }`;
  }
}

/**
 * `url` with `:jwt=<token>&:embed=true` appended: an HS256 JWT for the user
 * `email`, signed with the embed secret, valid `ttl` seconds (default 3600, at
 * most 30 days), with the other claims (`first_name`, `teams`,
 * `user_attributes`, `account_type`, ...), checked against what Sigma documents.
 */
function signEmbedUrl(url, embedClientId, embedSecret, { email, ttl = 3600, ...claims } = {}) {
  for (const [name, value] of [['url', url], ['embedClientId', embedClientId], ['embedSecret', embedSecret], ['email', email]]) {
    if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  }
  if (typeof ttl !== 'number' || !Number.isInteger(ttl)) throw new TypeError('ttl must be a whole number of seconds');
  if ('sub' in claims) throw new TypeError('give the user as email, not sub');
  const body = JSON.stringify({ sub: email, ...claims });
  return call(() => native.signEmbedUrl(url, embedClientId, embedSecret, body, ttl));
}

/**
 * A warehouse OAuth token encrypted for the `oauth_token` embed claim, as
 * Sigma's Node embed SDK does it with the embed secret.
 */
function encryptOAuthToken(oauthToken, embedSecret) {
  if (typeof oauthToken !== 'string' || typeof embedSecret !== 'string') {
    throw new TypeError('the OAuth token and the embed secret must be strings');
  }
  return call(() => native.encryptEmbedOauthToken(oauthToken, embedSecret));
}

module.exports = { Client, Token, SigmaAuthError, signEmbedUrl, encryptOAuthToken, STATUS_NAMES };
// `import sigmaAuth from 'sigma-auth'` under TypeScript's CommonJS interop.
module.exports.default = module.exports;
