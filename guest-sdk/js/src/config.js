// The plugin's settings, from the host's configuration file
// (`[settings."<plugin>.wasm"]`, or an interceptor entry's `settings`).
import { get as hostGet } from 'rotor:centrifugo/config@0.1.0';

/** The value of `key`, or `undefined` if it is not set. */
export const get = (key) => hostGet(key);

/** The value of `key`, or `fallback` if it is not set. */
export const getOr = (key, fallback) => {
  const value = hostGet(key);
  return value === undefined ? fallback : value;
};

/** The comma-separated list at `key`, trimmed, empty items dropped; `fallback` (a string) if unset. */
export const list = (key, fallback = '') => getOr(key, fallback)
  .split(',')
  .map((item) => item.trim())
  .filter((item) => item.length > 0);
