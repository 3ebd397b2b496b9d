// Write Rotor plugins in JavaScript or TypeScript.
//
// A plugin is an ES module whose named exports are its handlers: `connect`,
// `refresh`, `subscribe`, `publish`, `rpc`, `subRefresh`, `mapPublish`,
// `mapRemove`, `sharedPollRefresh`, `notifyCacheEmpty`,
// `notifyChannelState`, `subscribeStream` (an object of `open`, `onWake`,
// `onClientData`) and `before` / `after` for an interceptor. `rotor-build`
// finds them, composes the WIT world the module needs and turns it into a
// component.
//
// This module imports nothing from the host, so it also runs under Node for
// unit tests. Host imports live in their own modules (`@rotor/sdk/log`,
// `/config`, `/kv`, `/api`, `/stream`), so a component imports only what it
// uses.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error for the client's command (Centrifugo's `Error`). */
export class CentrifugoError extends Error {
  /**
   * @param {number} code 100–1999; applications use 400–1999.
   * @param {string} message
   * @param {{ temporary?: boolean }} [options] `temporary` makes clients retry.
   */
  constructor(code, message, options = {}) {
    super(message);
    this.name = 'CentrifugoError';
    this.code = code;
    this.temporary = options.temporary === true;
  }
}

/** Closes the client's connection (Centrifugo's `Disconnect`). */
export class DisconnectError extends Error {
  /**
   * @param {number} code 4000–4499 lets the client reconnect, 4500–4999 does not.
   * @param {string} reason Short: Centrifugo advises at most 32 ASCII bytes.
   */
  constructor(code, reason) {
    super(reason);
    this.name = 'DisconnectError';
    this.code = code;
    this.reason = reason;
  }
}

/** `100 internal server error`, temporary: something on the server side failed. */
export const internalError = () => new CentrifugoError(100, 'internal server error', { temporary: true });
/** `101 unauthorized`: the credentials are missing or wrong. */
export const unauthorized = () => new CentrifugoError(101, 'unauthorized');
/** `103 permission denied`: the user may not do this. */
export const permissionDenied = () => new CentrifugoError(103, 'permission denied');
/** `104 method not found`: no such RPC method. */
export const methodNotFound = () => new CentrifugoError(104, 'method not found');
/** `106 limit exceeded`: too many or too large. */
export const limitExceeded = (message = 'limit exceeded') => new CentrifugoError(106, message);
/** `107 bad request`: the request's data is malformed. */
export const badRequest = (message = 'bad request') => new CentrifugoError(107, message);
/** `109 token expired`: the client should get a fresh token and retry. */
export const tokenExpired = () => new CentrifugoError(109, 'token expired');
/** `111 too many requests`, temporary: a rate limit was hit. */
export const tooManyRequests = () => new CentrifugoError(111, 'too many requests', { temporary: true });
/** Closes the connection; return or throw it. */
export const disconnect = (code, reason) => new DisconnectError(code, reason);

const ALLOW = Symbol('rotor.allow');
const EXTEND = Symbol('rotor.extend');
const EXPIRE = Symbol('rotor.expire');
const PASS = Symbol('rotor.pass');
const REWRITE = Symbol('rotor.rewrite');

/**
 * Accepts a connect, subscribe, publish or RPC call. `fields` are those of
 * the call's result record; the rest take their defaults. Byte fields take a
 * `Uint8Array`, a string (UTF-8) or any other value (JSON); Unix times take a
 * number or a bigint.
 */
export const allow = (fields = {}) => ({ [ALLOW]: fields });
/** Extends a refresh or sub-refresh: `{ expireAt, info, … }`. */
export const extend = (fields = {}) => ({ [EXTEND]: fields });
/** Ends the connection (refresh) or subscription (sub-refresh). */
export const expire = () => ({ [EXPIRE]: true });
/** Interceptors: hand the call on unchanged (the same as returning nothing). */
export const pass = () => ({ [PASS]: true });
/** Interceptors: hand this request on instead, of the same type. */
export const rewrite = (request) => ({ [REWRITE]: request });

/** Bytes from a `Uint8Array`, a string (UTF-8), or any other value (JSON). */
export function bytes(value) {
  if (value === undefined || value === null) return new Uint8Array();
  if (value instanceof Uint8Array) return value;
  // Payloads the engine hands in are byte views that need not be this
  // realm's Uint8Array; any view or buffer is taken as its bytes.
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === 'string') return encoder.encode(value);
  return encoder.encode(JSON.stringify(value));
}

/** The UTF-8 text of `data`. */
export const text = (data) => decoder.decode(data);

/** The JSON value in `data`, or `undefined` if it is empty or not JSON. */
export function json(data) {
  if (!data || data.length === 0) return undefined;
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}

/** The value of header `name` (any case); the first one wins. */
export function header(headers, name) {
  const wanted = name.toLowerCase();
  const found = headers.find(([key]) => key.toLowerCase() === wanted);
  return found === undefined ? undefined : found[1];
}

/** Now, in whole Unix seconds. */
export const unixNow = () => Math.floor(Date.now() / 1000);

// Records with their defaults, by result kind. Every field of the WIT record
// is listed, so an unknown field in `allow` is a mistake we can name.
const connection = {
  user: '', expireAt: 0n, info: [], data: [], channels: [], subs: [], meta: [], caps: [], labels: [],
};
const RESULT_DEFAULTS = {
  connect: connection,
  subscribe: {
    expireAt: 0n, info: [], data: [], overrides: undefined, allow: [], serverTagsFilter: undefined,
  },
  publish: {
    data: undefined, skipHistory: false, tags: [], idempotencyKey: '', delta: false, version: 0n,
    versionEpoch: '',
  },
  rpc: { data: [] },
  refresh: { expireAt: 0n, info: [], meta: [], caps: [] },
  'sub-refresh': { expireAt: 0n, info: [] },
  'map-publish': {
    key: '', data: undefined, tags: [], score: 0n, keyMode: '', streamData: [], idempotencyKey: '',
    delta: false, version: 0n, versionEpoch: '',
  },
  'map-remove': { key: '', tags: [], idempotencyKey: '' },
  'shared-poll-refresh': { items: [], epoch: '' },
  // One changed key of a shared poll refresh (inside `items`).
  'shared-poll-entry': { key: '', data: [], version: 0n, removed: false, prevData: [] },
};
const BYTE_FIELDS = new Set(['info', 'data', 'meta', 'streamData', 'prevData']);
const BIGINT_FIELDS = new Set(['expireAt', 'version', 'score']);
const REFRESH_KINDS = new Set(['refresh', 'sub-refresh']);
// Calls Centrifugo makes with no client behind them: there is no connection
// to close, so a `DisconnectError` answers as error 100 with its reason.
const CLIENTLESS_KINDS = new Set(['shared-poll-refresh', 'notify-cache-empty', 'notify-channel-state']);

function record(kind, fields) {
  const defaults = RESULT_DEFAULTS[kind];
  const out = {};
  for (const key of Object.keys(fields)) {
    if (!(key in defaults)) {
      throw new TypeError(`${kind}: the result has no field \`${key}\` (one of: ${Object.keys(defaults).join(', ')})`);
    }
  }
  for (const [key, fallback] of Object.entries(defaults)) {
    const value = fields[key];
    if (value === undefined) {
      out[key] = Array.isArray(fallback) ? (BYTE_FIELDS.has(key) ? new Uint8Array() : []) : fallback;
    } else if (BYTE_FIELDS.has(key)) {
      out[key] = bytes(value);
    } else if (BIGINT_FIELDS.has(key)) {
      out[key] = BigInt(value);
    } else if (kind === 'shared-poll-refresh' && key === 'items') {
      out[key] = value.map((item) => record('shared-poll-entry', item));
    } else {
      out[key] = value;
    }
  }
  return out;
}

function errorRecord(error) {
  return { code: error.code, message: error.message, temporary: error.temporary };
}

/**
 * The WIT reply of kind `kind` for what a handler returned or threw.
 * Refresh kinds cannot fail: Centrifugo ignores errors there, so an error or
 * disconnect becomes `expire`.
 */
export function toReply(kind, outcome) {
  if (kind === 'notify-cache-empty') return cacheEmptyReply(outcome);
  if (CLIENTLESS_KINDS.has(kind) && outcome instanceof DisconnectError) {
    return { tag: 'reject', val: { code: 100, message: outcome.reason, temporary: true } };
  }
  if (kind === 'notify-channel-state' && (outcome === undefined || outcome === null)) {
    return { tag: 'accept' };
  }
  if (outcome instanceof CentrifugoError || outcome instanceof DisconnectError) {
    if (REFRESH_KINDS.has(kind)) return { tag: 'expire' };
    return outcome instanceof CentrifugoError
      ? { tag: 'reject', val: errorRecord(outcome) }
      : { tag: 'disconnect', val: { code: outcome.code, reason: outcome.reason } };
  }
  if (outcome !== null && typeof outcome === 'object') {
    if (REFRESH_KINDS.has(kind)) {
      if (outcome[EXPIRE]) return { tag: 'expire' };
      if (outcome[EXTEND]) return { tag: 'extend', val: record(kind, outcome[EXTEND]) };
    } else if (outcome[ALLOW]) {
      if (kind === 'notify-channel-state') return { tag: 'accept' };
      return { tag: 'accept', val: record(kind, outcome[ALLOW]) };
    }
    // Already a WIT reply: `{ tag: 'accept', val: … }`.
    if (typeof outcome.tag === 'string') return outcome;
  }
  const expected = REFRESH_KINDS.has(kind) ? 'extend(…) or expire()' : 'allow(…) or an error';
  throw new TypeError(`${kind} handler answered ${String(outcome)}; expected ${expected}`);
}

/**
 * The reply to a cache-empty notice: a boolean (or `{ populated }`) says
 * whether the cache was filled. The response has no error, so an error
 * answers `populated: false`.
 */
function cacheEmptyReply(outcome) {
  if (typeof outcome === 'boolean') return { populated: outcome };
  if (outcome instanceof CentrifugoError || outcome instanceof DisconnectError) return { populated: false };
  if (outcome !== null && typeof outcome === 'object' && typeof outcome.populated === 'boolean') {
    return { populated: outcome.populated };
  }
  throw new TypeError(`notify-cache-empty handler answered ${String(outcome)}; expected true or false`);
}

/** Runs `handler` and turns its answer, or the Centrifugo error it threw, into a reply. */
function answer(kind, handler, ...args) {
  let outcome;
  try {
    outcome = handler(...args);
  } catch (error) {
    if (error instanceof CentrifugoError || error instanceof DisconnectError) {
      outcome = error;
    } else {
      throw error;
    }
  }
  return toReply(kind, outcome);
}

/** The WIT export for a handler of `kind` (used by `rotor-build`). */
export function exportHandler(kind, handler) {
  if (typeof handler !== 'function') {
    throw new TypeError(`export \`${kind}\` must be a function`);
  }
  return { handle: (request) => answer(kind, handler, request) };
}

/**
 * The WIT `stream-handler` export for a `subscribeStream` object (used by
 * `rotor-build`). `open` answers as a subscribe handler does; `onWake` and
 * `onClientData` may be left out. An exception there traps the instance,
 * and the host ends the stream as a fault: there is no call left to answer,
 * so end a stream on purpose with `close()` from `@rotor/sdk/stream`.
 */
export function exportStream(handler) {
  if (handler === null || typeof handler !== 'object' || typeof handler.open !== 'function') {
    throw new TypeError('export `subscribeStream` must be an object with an `open(request)` function');
  }
  for (const name of ['onWake', 'onClientData']) {
    if (handler[name] !== undefined && typeof handler[name] !== 'function') {
      throw new TypeError(`subscribeStream.${name} must be a function`);
    }
  }
  const callback = (name, ...args) => {
    if (typeof handler[name] === 'function') handler[name].apply(handler, args);
  };
  return {
    open: (request) => answer('subscribe', handler.open.bind(handler), request),
    onWake: () => callback('onWake'),
    onClientData: (data) => callback('onClientData', data),
  };
}

/** The WIT `interceptor` export for `before` and `after` (used by `rotor-build`). */
export function exportInterceptor(before, after) {
  return {
    before(context, request) {
      if (typeof before !== 'function') return { tag: 'pass' };
      let outcome;
      try {
        outcome = before(context, request);
      } catch (error) {
        if (error instanceof CentrifugoError || error instanceof DisconnectError) {
          outcome = error;
        } else {
          throw error;
        }
      }
      return toDecision(request, outcome);
    },
    after(context, reply) {
      if (typeof after !== 'function') return undefined;
      let outcome;
      try {
        outcome = after(context, reply);
      } catch (error) {
        if (error instanceof CentrifugoError || error instanceof DisconnectError) {
          outcome = error;
        } else {
          throw error;
        }
      }
      if (outcome === undefined || outcome === null) return undefined;
      if (isReplyVariant(outcome, reply.tag)) return outcome;
      return { tag: reply.tag, val: toReply(reply.tag, outcome) };
    },
  };
}

function isReplyVariant(value, kind) {
  if (value === null || typeof value !== 'object' || value.tag !== kind) return false;
  if (value.val === null || typeof value.val !== 'object') return false;
  // The cache-empty reply is a record, not a variant.
  if (kind === 'notify-cache-empty') return typeof value.val.populated === 'boolean';
  return typeof value.val.tag === 'string';
}

/** The WIT decision for what `before` returned or threw about `request`. */
export function toDecision(request, outcome) {
  if (outcome === undefined || outcome === null || (typeof outcome === 'object' && outcome[PASS])) {
    return { tag: 'pass' };
  }
  if (outcome instanceof CentrifugoError) return { tag: 'reject', val: errorRecord(outcome) };
  if (outcome instanceof DisconnectError) {
    return { tag: 'disconnect', val: { code: outcome.code, reason: outcome.reason } };
  }
  if (typeof outcome === 'object' && REWRITE in outcome) {
    const next = outcome[REWRITE];
    // Either the request variant itself or the bare record of this kind.
    const variant = next && typeof next.tag === 'string' && 'val' in next ? next : { tag: request.tag, val: next };
    return { tag: 'rewrite', val: variant };
  }
  if (typeof outcome === 'object' && typeof outcome.tag === 'string' && outcome.tag in DECISION_TAGS) {
    return outcome;
  }
  // An answer in handler terms: allow(…), extend(…), expire() or a reply.
  const reply = isReplyVariant(outcome, request.tag) ? outcome : { tag: request.tag, val: toReply(request.tag, outcome) };
  return { tag: 'answer', val: reply };
}

const DECISION_TAGS = { pass: 1, rewrite: 1, answer: 1, reject: 1, disconnect: 1 };

/** The request kinds, as `request.tag` of an interceptor's request names them. */
export const KINDS = [
  'connect', 'refresh', 'subscribe', 'publish', 'rpc', 'sub-refresh', 'map-publish', 'map-remove',
  'shared-poll-refresh', 'notify-cache-empty', 'notify-channel-state',
];
