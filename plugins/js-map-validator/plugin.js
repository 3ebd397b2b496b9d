// Validates what clients write into map channels, like the Rust
// map-validator:
//
// - a key is 1 to 128 bytes of ASCII letters, digits and `_ - . :`;
//   otherwise `107 bad request`;
// - a published state is a JSON object of at most `max_bytes` bytes (default
//   4096): larger is `106 limit exceeded`, anything else `107 bad request`;
// - with `own_keys = "true"`, a user may publish and remove only the key that
//   equals their user id (`103 permission denied` otherwise);
// - accepted publications go out unchanged.
//
// Config keys (optional): `max_bytes`, `own_keys`. A `max_bytes` that is not
// a whole number fails every call with `100 internal server error`.
import { allow, badRequest, internalError, limitExceeded, permissionDenied, text } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';
import * as log from '@rotor/sdk/log';

const DEFAULT_MAX_BYTES = 4096;
const MAX_KEY_BYTES = 128;
const KEY = /^[A-Za-z0-9_.:-]+$/;

/** The size limit from the config value, or the default when unset; `undefined` when invalid. */
export function maxBytes(value) {
  if (value === undefined) return DEFAULT_MAX_BYTES;
  return /^\s*\d+\s*$/.test(value) ? Number(value) : undefined;
}

/** Refuses a key of the wrong shape, or another user's key when `ownKeys`. */
export function checkKey(key, user, ownKeys) {
  if (key.length === 0 || key.length > MAX_KEY_BYTES || !KEY.test(key)) {
    throw badRequest(`a key is 1 to ${MAX_KEY_BYTES} bytes of letters, digits and _ - . :`);
  }
  if (ownKeys && (user === '' || key !== user)) throw permissionDenied();
}

/** Refuses a state that is too large or not a JSON object. */
export function checkState(data, limit) {
  if (data.length > limit) throw limitExceeded(`the state is ${data.length} bytes, at most ${limit} allowed`);
  let value;
  try {
    value = JSON.parse(text(data));
  } catch {
    throw badRequest('the state is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('the state must be a JSON object');
  }
}

const ownKeys = () => config.get('own_keys') === 'true';

/** The map publish handler. */
export function mapPublish(request) {
  const limit = maxBytes(config.get('max_bytes'));
  if (limit === undefined) {
    log.error('js-map-validator: config key `max_bytes` is not a whole number');
    throw internalError();
  }
  checkKey(request.key, request.user, ownKeys());
  checkState(request.data, limit);
  return allow();
}

/** The map remove handler. */
export function mapRemove(request) {
  checkKey(request.key, request.user, ownKeys());
  return allow();
}
