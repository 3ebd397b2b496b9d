// Authenticates connections with an HS256 JSON Web Token, like the Rust
// connect-jwt plugin.
//
// The token comes from the connect command's data, `{"token": "<jwt>"}`, or
// else from an `authorization: Bearer <jwt>` header. It must be signed with
// HS256 under the configured secret; then its claims make the connection:
//
// - `sub` (required, non-empty string): the user id;
// - `exp` (optional, Unix seconds): the connection's expiry; a token past it
//   is refused with `109 token expired`;
// - `info` (optional, any JSON): the connection info;
// - `channels` (optional, array of strings): server-side subscriptions.
//
// A missing, malformed or badly signed token is refused with `101 unauthorized`.
//
// Config keys: `secret` (required), the HMAC key. Without it every connect
// fails with `100 internal server error` and an error log line.
import { allow, internalError, unixNow, type ConnectHandler, type ConnectRequest } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';
import * as log from '@rotor/sdk/log';
import { JwtError, connectToken, verifyHs256 } from '@rotor/sdk/jwt';

/** The accepted connection for `request`, verified against `secret` at `now`. */
export function authenticate(request: ConnectRequest, secret: string, now: number) {
  const token = connectToken(request);
  if (token === undefined) throw new JwtError('missing');
  const claims = verifyHs256(token, secret, now);
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new JwtError('claim', 'sub');
  const channels = claims.channels ?? [];
  if (!Array.isArray(channels) || !channels.every((channel) => typeof channel === 'string')) {
    throw new JwtError('claim', 'channels');
  }
  return allow({
    user: claims.sub,
    expireAt: claims.exp === undefined ? 0 : Math.floor(claims.exp),
    info: claims.info === undefined ? undefined : claims.info,
    channels,
  });
}

export const connect: ConnectHandler = (request) => {
  const secret = config.get('secret');
  if (!secret) {
    log.error('js-connect-auth: config key `secret` is not set');
    return internalError();
  }
  try {
    return authenticate(request, secret, unixNow());
  } catch (error) {
    if (!(error instanceof JwtError)) throw error;
    log.debug(`js-connect-auth: refused: ${error.message}`);
    return error.denial();
  }
};
