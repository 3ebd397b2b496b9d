declare module 'rotor:centrifugo/kv@0.1.0' {
  /**
   * The value of `key`, if it is set and not expired.
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Sets `key` to `value`, expiring after `ttl-ms` milliseconds if given.
   */
  export function set(key: string, value: Uint8Array, ttlMs: bigint | undefined): void;
  /**
   * Removes `key`; true if it was set.
   */
  export { _delete as delete };
  function _delete(key: string): boolean;
  /**
   * Adds `delta` to the counter at `key` (a missing key counts as 0) and
   * returns the new value. `ttl-ms` applies when the call creates the key,
   * so a counter with a TTL is a fixed window.
   */
  export function increment(key: string, delta: bigint, ttlMs: bigint | undefined): bigint;
  /**
   * Sets `key` to `value` only if its current value is `expected` (`none`:
   * only if it is not set); true if it was set.
   */
  export function compareAndSet(key: string, expected: Uint8Array | undefined, value: Uint8Array, ttlMs: bigint | undefined): boolean;
  /**
   * Why a store operation failed.
   */
  export type KvError = KvErrorUnavailable | KvErrorInvalid;
  /**
   * The store could not be reached or answered with an error.
   */
  export interface KvErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
  /**
   * The key or value is over the host's limits, or the value is not a counter.
   */
  export interface KvErrorInvalid {
    tag: 'invalid',
    val: string,
  }
}
