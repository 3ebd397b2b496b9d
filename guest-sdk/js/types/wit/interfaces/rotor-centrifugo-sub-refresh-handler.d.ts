/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/sub-refresh-handler@0.1.0' {
  export function handle(request: SubRefreshRequest): SubRefreshReply;
  export type SubRefreshRequest = import('rotor:centrifugo/types@0.1.0').SubRefreshRequest;
  export type SubRefreshReply = import('rotor:centrifugo/types@0.1.0').SubRefreshReply;
}
