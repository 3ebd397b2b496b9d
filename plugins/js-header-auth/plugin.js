// An interceptor that admits calls by API key and logs how each one ended.
//
// Every call must carry an `x-api-key` header whose value is one of the
// configured keys; the key names the caller. Then:
//
// - a known key: the request goes on with header `x-caller: <name>` (every
//   `x-caller` that came with the call is dropped first, so the handler can
//   trust it);
// - no key or an unknown one: `101 unauthorized`, and the handler does not
//   run (on refresh and sub-refresh the host makes that `expire`).
//
// `after` keeps the reply and writes one log line per call with its kind,
// caller, outcome and the time the rest of the chain took.
//
// Config keys: `keys` (required), comma-separated `<key>=<name>` pairs.
// Without it every call is refused with `100 internal server error`.
import { header, internalError, rewrite, unauthorized } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';
import * as log from '@rotor/sdk/log';

/** The header that carries the caller's name to the handler. */
export const CALLER_HEADER = 'x-caller';

/** What `before` saw, for `after`: the host calls both on one instance. */
let started;

/** The configured keys: `{ key: name }`. */
export function parseKeys(value) {
  const keys = new Map();
  for (const pair of (value ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) keys.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return keys;
}

/** The request with `caller` as the one value of the caller header. */
export function withCaller(request, caller) {
  const headers = request.val.headers.filter(([key]) => key.toLowerCase() !== CALLER_HEADER);
  headers.push([CALLER_HEADER, caller]);
  return { tag: request.tag, val: { ...request.val, headers } };
}

export function before(context, request) {
  const keys = parseKeys(config.get('keys'));
  if (keys.size === 0) {
    log.error('js-header-auth: config key `keys` is not set');
    throw internalError();
  }
  const key = header(request.val.headers, 'x-api-key');
  const caller = key === undefined ? undefined : keys.get(key);
  if (caller === undefined) {
    log.debug(`js-header-auth: ${request.tag} refused: ${key === undefined ? 'no key' : 'unknown key'}`);
    throw unauthorized();
  }
  started = { callId: context.callId, at: performance.now(), caller };
  return rewrite(withCaller(request, caller));
}

/** How `reply` ends the call. */
export function outcome(reply) {
  const inner = reply.val;
  return inner.tag === 'reject' || inner.tag === 'disconnect' ? `${inner.tag} code=${inner.val.code}` : inner.tag;
}

export function after(context, reply) {
  if (started === undefined || started.callId !== context.callId) return undefined;
  const took = Math.round((performance.now() - started.at) * 1000);
  log.info(`${reply.tag} caller=${started.caller} outcome=${outcome(reply)} took=${took}µs`);
  started = undefined;
  return undefined;
}
