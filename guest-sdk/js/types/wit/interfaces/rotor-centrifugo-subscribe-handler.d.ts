/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/subscribe-handler@0.1.0' {
  export function handle(request: SubscribeRequest): SubscribeReply;
  export type SubscribeRequest = import('rotor:centrifugo/types@0.1.0').SubscribeRequest;
  export type SubscribeReply = import('rotor:centrifugo/types@0.1.0').SubscribeReply;
}
