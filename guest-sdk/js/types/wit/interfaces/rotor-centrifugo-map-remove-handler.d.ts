/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/map-remove-handler@0.1.0' {
  export function handle(request: MapRemoveRequest): MapRemoveReply;
  export type MapRemoveRequest = import('rotor:centrifugo/types@0.1.0').MapRemoveRequest;
  export type MapRemoveReply = import('rotor:centrifugo/types@0.1.0').MapRemoveReply;
}
