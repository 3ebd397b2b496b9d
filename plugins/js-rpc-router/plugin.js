// Routes RPC calls by method name, like the Rust rpc-router:
//
// - `echo`: answers with the call's data as it is;
// - `whoami`: answers `{"user": <user id>, "client": <connection id>}`;
// - `sum`: takes `{"numbers": [..]}` and answers `{"sum": <total>}`; anything
//   else is refused with `107 bad request`;
// - any other method is refused with `104 method not found`.
//
// Reads no config keys and imports nothing from the host.
import { allow, badRequest, json, methodNotFound } from '@rotor/sdk';

const METHODS = {
  echo: (request) => allow({ data: request.data }),
  whoami: (request) => allow({ data: { user: request.user, client: request.conn.client } }),
  sum: (request) => allow({ data: { sum: sum(request.data) } }),
};

/** The RPC handler. */
export function rpc(request) {
  const method = Object.hasOwn(METHODS, request.method) ? METHODS[request.method] : undefined;
  if (method === undefined) throw methodNotFound();
  return method(request);
}

/** The total of `{"numbers": [..]}`. */
export function sum(data) {
  const numbers = json(data)?.numbers;
  if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'number')) {
    throw badRequest('expected {"numbers": [<number>, ...]}');
  }
  const total = numbers.reduce((a, b) => a + b, 0);
  if (!Number.isFinite(total) || (Number.isInteger(total) && !Number.isSafeInteger(total))) {
    throw badRequest('sum overflows');
  }
  return total;
}
