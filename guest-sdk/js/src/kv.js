// Small shared state that outlives one call: counters, bookings, caches.
// Keys are private to the tenant. Every function throws a `KvError` when the
// store fails.
import * as store from 'rotor:centrifugo/kv@0.1.0';
import { bytes, text } from './index.js';
import { payloadOf } from './errors.js';

/** A failed store operation: `kind` is `unavailable` or `invalid`. */
export class KvError extends Error {
  constructor(kind, message) {
    super(`kv ${kind}: ${message}`);
    this.name = 'KvError';
    this.kind = kind;
  }
}

function call(operation) {
  try {
    return operation();
  } catch (thrown) {
    const payload = payloadOf(thrown);
    if (payload && (payload.tag === 'unavailable' || payload.tag === 'invalid')) {
      throw new KvError(payload.tag, payload.val);
    }
    throw thrown;
  }
}

const millis = (ttlMs) => (ttlMs === undefined || ttlMs === null ? undefined : BigInt(Math.ceil(Number(ttlMs))));

/** The bytes at `key`, or `undefined`. */
export const get = (key) => call(() => store.get(key));
/** The UTF-8 text at `key`, or `undefined`. */
export const getText = (key) => {
  const value = get(key);
  return value === undefined ? undefined : text(value);
};
/** Sets `key` to `value` (bytes, text or JSON), expiring after `ttlMs` if given. */
export const set = (key, value, ttlMs) => call(() => store.set(key, bytes(value), millis(ttlMs)));
/** Removes `key`; true if it was set. */
export const remove = (key) => call(() => store.delete(key));
/**
 * Adds `delta` to the counter at `key` and returns the new value as a number.
 * `ttlMs` applies when the call creates the key: a fixed window.
 */
export const increment = (key, delta = 1, ttlMs) => Number(call(() => store.increment(key, BigInt(delta), millis(ttlMs))));
/** Sets `key` to `value` only if it holds `expected` (`undefined`: only if unset); true if set. */
export const compareAndSet = (key, expected, value, ttlMs) => call(() => store.compareAndSet(
  key,
  expected === undefined ? undefined : bytes(expected),
  bytes(value),
  millis(ttlMs),
));
