/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/rpc-handler@0.1.0' {
  export function handle(request: RpcRequest): RpcReply;
  export type RpcRequest = import('rotor:centrifugo/types@0.1.0').RpcRequest;
  export type RpcReply = import('rotor:centrifugo/types@0.1.0').RpcReply;
}
