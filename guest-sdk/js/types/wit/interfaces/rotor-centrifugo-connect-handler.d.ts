/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/connect-handler@0.1.0' {
  export function handle(request: ConnectRequest): ConnectReply;
  export type ConnectRequest = import('rotor:centrifugo/types@0.1.0').ConnectRequest;
  export type ConnectReply = import('rotor:centrifugo/types@0.1.0').ConnectReply;
}
