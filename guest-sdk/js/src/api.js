// Centrifugo's server API, through the host: publish, manage subscriptions
// and connections, read presence and history. The host holds the address and
// key. Every function throws an `ApiError` when the call fails.
import * as host from 'rotor:centrifugo/centrifugo-api@0.1.0';
import { bytes } from './index.js';
import { payloadOf } from './errors.js';

/**
 * A failed API call. `kind`: `centrifugo` (Centrifugo answered an error, see
 * `code`), `denied` (outside what the plugin may do), `unavailable` or `timeout`.
 */
export class ApiError extends Error {
  constructor(kind, message, code = 0) {
    super(kind === 'centrifugo' ? `centrifugo error ${code}: ${message}` : `api ${kind}${message ? `: ${message}` : ''}`);
    this.name = 'ApiError';
    this.kind = kind;
    this.code = code;
  }

  /** The error for a WIT `api-error` variant. */
  static from(variant) {
    switch (variant.tag) {
      case 'centrifugo': return new ApiError('centrifugo', variant.val.message, variant.val.code);
      case 'timeout': return new ApiError('timeout', '');
      default: return new ApiError(variant.tag, variant.val ?? '');
    }
  }
}

function call(operation) {
  try {
    return operation();
  } catch (thrown) {
    const payload = payloadOf(thrown);
    if (payload && typeof payload.tag === 'string') throw ApiError.from(payload);
    throw thrown;
  }
}

/** Per-command results of `broadcast` and `batch`: `undefined` on success, else an `ApiError`. */
const results = (list) => list.map((result) => (result.tag === 'ok' ? result.val : ApiError.from(result.val)));

const publishOptions = (options = {}) => ({
  skipHistory: options.skipHistory === true,
  tags: Object.entries(options.tags ?? {}),
  idempotencyKey: options.idempotencyKey ?? '',
  delta: options.delta === true,
});

/** Publishes `data` (bytes, text or JSON) into `channel`; the stream position `{ offset, epoch }`. */
export const publish = (channel, data, options) => call(() => host.publish(channel, bytes(data), publishOptions(options)));
/** Publishes into every channel; one position or `ApiError` per channel. */
export const broadcast = (channels, data, options) => results(call(() => host.broadcast(channels, bytes(data), publishOptions(options))));
/** Subscribes `user` (or only its connection `client`) to `channel`. */
export const subscribe = (user, channel, client = '') => call(() => host.subscribe(user, channel, client));
/** Unsubscribes `user` (or only `client`) from `channel`. */
export const unsubscribe = (user, channel, client = '') => call(() => host.unsubscribe(user, channel, client));
/** Disconnects `user` (or only `client`) with `code` (4000–4999) and `reason`. */
export const disconnect = (user, code, reason, client = '') => call(() => host.disconnect(user, client, code, reason));
/** Sets a new expiry (Unix seconds) for `user`'s connections, or expires them with `{ expired: true }`. */
export const refresh = (user, { expireAt = 0, expired = false, client = '' } = {}) => call(() => host.refresh(user, client, BigInt(expireAt), expired));
/** The connections in `channel`. */
export const presence = (channel) => call(() => host.presence(channel));
/** `{ numClients, numUsers }` of `channel`. */
export const presenceStats = (channel) => call(() => host.presenceStats(channel));
/** A page of `channel`'s history: `{ publications, epoch, offset }`. */
export const history = (channel, { limit = 0, since, reverse = false } = {}) => call(() => host.history(channel, { limit, since, reverse }));
/** Removes `channel`'s history. */
export const historyRemove = (channel) => call(() => host.historyRemove(channel));
/** Active channels matching `pattern`, as `[name, clients]` pairs. */
export const channels = (pattern = '') => call(() => host.channels(pattern));
/** The nodes of the Centrifugo cluster. */
export const info = () => call(() => host.info());
/**
 * Sends WIT `command` variants (e.g. `{ tag: 'publish', val: { channel, data, options } }`)
 * in one API call; one `undefined` or `ApiError` per command.
 */
export const batch = (commands, { parallel = false } = {}) => results(call(() => host.batch(commands, parallel)));
