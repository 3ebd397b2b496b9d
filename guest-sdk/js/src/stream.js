// A subscription stream's side of the host: publish to the subscriber, ask
// to be woken, end the stream. Only a plugin that exports `subscribeStream`
// may use this module.
//
// Each call lands when the current callback returns: publications go out in
// order after it, a timer replaces the one asked for before, and a closed
// stream gets no more callbacks.
import * as host from 'rotor:centrifugo/stream@0.1.0';
import { bytes } from './index.js';
import { payloadOf } from './errors.js';

/** A publication the host refused: the stream is closing, or it is over a limit. */
export class StreamError extends Error {
  constructor(message) {
    super(`stream: ${message}`);
    this.name = 'StreamError';
  }
}

/** Tags as the WIT's list of pairs, from an object, a `Map` or pairs. */
export function tagPairs(tags) {
  if (tags === undefined || tags === null) return [];
  const entries = Array.isArray(tags) ? tags : tags instanceof Map ? [...tags] : Object.entries(tags);
  return entries.map(([key, value]) => [String(key), String(value)]);
}

/**
 * Sends `data` (bytes, text or JSON) to the subscriber, with `tags` (an
 * object of strings). Throws a `StreamError` once the stream is closing,
 * past the host's publications per callback (64), or when the publication
 * is larger than the tenant's `max_reply`.
 */
export function publish(data, tags) {
  try {
    host.publish(bytes(data), tagPairs(tags));
  } catch (thrown) {
    const payload = payloadOf(thrown);
    if (typeof payload === 'string') throw new StreamError(payload);
    throw thrown;
  }
}

/**
 * Asks for `onWake` after `ms` milliseconds (at least 10; more than 2³²−1
 * is cut to that), replacing an earlier request.
 */
export function wakeAfter(ms) {
  const whole = Math.ceil(Number(ms));
  if (!Number.isFinite(whole) || whole < 0) throw new RangeError(`wakeAfter: ${ms} is not a duration in milliseconds`);
  host.wakeAfter(Math.min(whole, 0xffffffff));
}

/** Ends the stream once this callback returns: Centrifugo unsubscribes the client ("server unsubscribe"). */
export function close() {
  host.close();
}
