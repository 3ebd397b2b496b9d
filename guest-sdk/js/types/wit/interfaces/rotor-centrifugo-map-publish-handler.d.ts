/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/map-publish-handler@0.1.0' {
  export function handle(request: MapPublishRequest): MapPublishReply;
  export type MapPublishRequest = import('rotor:centrifugo/types@0.1.0').MapPublishRequest;
  export type MapPublishReply = import('rotor:centrifugo/types@0.1.0').MapPublishReply;
}
