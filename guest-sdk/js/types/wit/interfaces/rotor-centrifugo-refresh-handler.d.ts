/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/refresh-handler@0.1.0' {
  export function handle(request: RefreshRequest): RefreshReply;
  export type RefreshRequest = import('rotor:centrifugo/types@0.1.0').RefreshRequest;
  export type RefreshReply = import('rotor:centrifugo/types@0.1.0').RefreshReply;
}
