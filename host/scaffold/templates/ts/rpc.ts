// Answers Centrifugo's RPC calls: method `hello` answers
// `{"hello": <user>}`, any other method `104 method not found`.
import { allow, methodNotFound, type RpcHandler } from '@rotor/sdk';
import * as log from '@rotor/sdk/log';

export const rpc: RpcHandler = (request) => {
  if (request.method !== 'hello') throw methodNotFound();
  log.info(`hello from ${request.user}`);
  return allow({ data: { hello: request.user } });   // objects are sent as JSON
};
