/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/publish-handler@0.1.0' {
  export function handle(request: PublishRequest): PublishReply;
  export type PublishRequest = import('rotor:centrifugo/types@0.1.0').PublishRequest;
  export type PublishReply = import('rotor:centrifugo/types@0.1.0').PublishReply;
}
