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

// The native module throws failures as SIGMA_AUTH_ERROR and a JSON object.
const THROWN = 'SIGMA_AUTH_ERROR';
function rethrown(error) {
  const text = error instanceof Error ? error.message : '';
  if (!text.startsWith(THROWN)) return error;
  try {
    return failed(JSON.parse(text.slice(THROWN.length)));
  } catch {
    return new SigmaAuthError('INTERNAL', 'a malformed error from the native module');
  }
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
  #expiresAtMs;

  constructor(key, view) {
    if (key !== INTERNAL) throw new TypeError('tokens come from Client.token()');
    this.#accessToken = view.accessToken;
    this.#expiresAtMs = view.expiresAtMs;
    this.tokenType = view.tokenType;
    this.serial = view.serial;
    Object.freeze(this);
  }

  /** The token's text, for `Authorization: Bearer ...`. */
  get accessToken() {
    return this.#accessToken;
  }

  /** When it expires: a new Date each time (callers share the token). */
  get expiresAt() {
    return new Date(this.#expiresAtMs);
  }

  /** Seconds until it expires (may be negative). */
  get expiresIn() {
    return (this.#expiresAtMs - Date.now()) / 1000;
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
  'tokenStore',
  'timeout',
  'connectTimeout',
  'maxAttempts',
  'caFile',
  'allowedOrigins',
  'userAgentSuffix',
  'onEvent',
]);

// The caller's own option values only: an inherited one (a polluted
// Object.prototype) is never read, so it cannot add an origin or a CA.
function ownOptions(options, extraNames = []) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const own = Object.create(null);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name) && !extraNames.includes(name)) {
      throw new TypeError(`unknown option ${JSON.stringify(name)}`);
    }
    own[name] = options[name];
  }
  return own;
}

function nativeOptions(source, options, extra) {
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
  let origins;
  if (options.allowedOrigins !== undefined) {
    const given = options.allowedOrigins;
    if (!Array.isArray(given)) throw new TypeError('allowedOrigins must be an array of strings');
    origins = [];
    for (let i = 0; i < given.length; i++) {
      if (typeof given[i] !== 'string') throw new TypeError('allowedOrigins must be an array of strings');
      origins.push(given[i]);
    }
  }
  const attempts = options.maxAttempts;
  if (attempts !== undefined && attempts !== null && (!Number.isInteger(attempts) || attempts < 1 || attempts > 10)) {
    throw new TypeError('maxAttempts must be a whole number from 1 to 10');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new TypeError('onEvent must be a function');
  }
  return {
    source,
    ...extra,
    tokenCache: text('tokenCache'),
    tokenStore: text('tokenStore'),
    timeoutMs: number('timeout'),
    connectTimeoutMs: number('connectTimeout'),
    maxAttempts: attempts ?? undefined,
    caFile: text('caFile'),
    allowedOrigins: origins,
    userAgentSuffix: text('userAgentSuffix'),
  };
}

// The handler the core's threads reach through a weak thread-safe function:
// it keeps no process alive and holds nothing but the user's function.
function eventHandler(onEvent) {
  if (!onEvent) return undefined;
  const warn = (error) => {
    let why;
    try {
      why = String(error instanceof Error ? error.message : error);
    } catch {
      why = 'an error that cannot be shown';
    }
    process.emitWarning(`sigma-auth: the onEvent handler threw: ${why}`);
  };
  return (event) => {
    try {
      const result = onEvent(Object.freeze(event));
      // An async handler's rejection is a warning too, not an unhandled rejection.
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        Promise.resolve(result).catch(warn);
      }
    } catch (error) {
      warn(error);
    }
  };
}

// Headers that stay with their origin on a redirect, as the Fetch standard
// (and Node's fetch) has it.
const ORIGIN_BOUND = ['authorization', 'cookie', 'proxy-authorization'];

function abortError(signal) {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

// `promise`, or the signal's reason as soon as it aborts.
function unlessAborted(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

// A response reached through redirects says so, as fetch's own would.
function followed(response, redirected) {
  if (redirected) Object.defineProperty(response, 'redirected', { value: true });
  return response;
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
   *   `tokenCache` (a directory shared by processes), `tokenStore` (a Redis
   *   URL through which hosts share tokens), `timeout` and
   *   `connectTimeout` (ms), `maxAttempts`, `caFile`, `allowedOrigins`,
   *   `userAgentSuffix`, `onEvent`.
   */
  constructor(options, handle) {
    if (options === INTERNAL) {
      this.#start(handle);
      return;
    }
    const own = ownOptions(options, ['endpoint', 'clientId', 'clientSecret']);
    for (const name of ['endpoint', 'clientId', 'clientSecret']) {
      if (typeof own[name] !== 'string') throw new TypeError(`${name} must be a string`);
    }
    const extra = { endpoint: own.endpoint, clientId: own.clientId, clientSecret: own.clientSecret };
    this.#start(Client.#create('endpoint', own, extra));
  }

  /** A client from SIGMA_BASE_URL, SIGMA_CLIENT_ID and SIGMA_CLIENT_SECRET (and the other SIGMA_* settings). */
  static fromEnv(options = {}) {
    return new Client(INTERNAL, Client.#create('env', ownOptions(options), {}));
  }

  /**
   * A client for a person's stored sign-in (`sigma-token login [--profile NAME]`).
   * Async: the sign-in is read from the keyring (which may wait on a prompt or a
   * slow D-Bus) on a thread of the core, never on the event loop.
   */
  static async fromLogin(profile = 'default', options = {}) {
    if (typeof profile !== 'string') throw new TypeError('profile must be a string');
    const own = ownOptions(options);
    const settings = nativeOptions('login', own, { profile });
    let handle;
    try {
      handle = await native.NativeClient.createAsync(settings, eventHandler(own.onEvent));
    } catch (error) {
      throw rethrown(error);
    }
    return new Client(INTERNAL, handle);
  }

  static #create(source, own, extra) {
    const settings = nativeOptions(source, own, extra);
    return call(() => native.NativeClient.create(settings, eventHandler(own.onEvent)));
  }

  #start(handle) {
    if (this.fetch === Client.prototype.fetch) this.fetch = this.fetch.bind(this);
    this.#native = handle;
    this.#description = handle.description;
    this.#word = new Uint32Array(call(() => handle.word()));
  }

  /**
   * A token valid for at least 10 more seconds (a tenth of its lifetime, for
   * tokens shorter than 100 s). Resolves at once while one is
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
    // Each waiter gets its own error object, and counts as served only when
    // the fetch succeeds.
    return this.#pending.then(
      (token) => {
        this.#served++;
        return token;
      },
      (error) => {
        throw error instanceof SigmaAuthError ? failed(error) : error;
      },
    );
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
    const held = this.#held; // token()'s hot path, inlined: this is read on every API call
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
   * never reaches another origin (nor do the caller's own `Authorization`,
   * `Cookie` and `Proxy-Authorization`, as with Node's fetch); a 401 to a
   * request that carried the token drops it and retries once per call. A
   * body given as a stream is sent as a stream, and then not sent again: a
   * 401 or a 307/308 is returned as it is.
   * @param {string | URL | Request} input
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fetch(input, init = undefined) {
    if (this.#closed) throw closedError();
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal.aborted) throw abortError(signal);
    const mode = request.redirect;
    let method = request.method;
    const given = init?.body ?? (input instanceof Request ? input.body : null);
    const streamed = given instanceof ReadableStream;
    // Read once, so a retry or a 307/308 can send it again; a stream is passed on.
    let body = null;
    if (streamed) body = request.body;
    else if (method !== 'GET' && method !== 'HEAD') body = await unlessAborted(request.arrayBuffer(), signal);
    const headers = new Headers(request.headers);
    let url = new URL(request.url);
    let retried = false;
    let redirected = false;
    for (let hops = 0; ; ) {
      let token = null;
      const sent = new Headers(headers);
      if (!headers.has('authorization') && this.allowsOrigin(url)) {
        token = await unlessAborted(this.token(), signal);
        sent.set('authorization', `Bearer ${token.accessToken}`);
      }
      const response = await globalThis.fetch(url, {
        ...init,
        method,
        headers: sent,
        body,
        redirect: 'manual',
        signal,
        ...(streamed ? { duplex: 'half' } : {}),
      });
      if (token !== null && response.status === 401 && !retried && !streamed) {
        retried = true;
        this.invalidate(token);
        await response.body?.cancel();
        continue;
      }
      if (!isRedirect(response.status) || mode === 'manual') return followed(response, redirected);
      if (mode === 'error') {
        await response.body?.cancel();
        throw new TypeError(`fetch failed: redirected (${response.status}) with redirect: 'error'`);
      }
      const location = response.headers.get('location');
      if (location === null) return followed(response, redirected);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') return followed(response, redirected);
      if (++hops > 20) {
        await response.body?.cancel();
        throw new TypeError('fetch failed: more than 20 redirects');
      }
      if (response.status === 303 ? method !== 'HEAD' : response.status <= 302 && method === 'POST') {
        method = 'GET';
        body = null;
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) {
          headers.delete(name);
        }
      } else if (streamed) {
        return followed(response, redirected); // the stream is spent: it cannot be sent again
      }
      if (next.origin !== url.origin) for (const name of ORIGIN_BOUND) headers.delete(name);
      await response.body?.cancel();
      url = next;
      redirected = true;
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
