/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/shared-poll-refresh-handler@0.1.0' {
  export function handle(request: SharedPollRefreshRequest): SharedPollRefreshReply;
  export type SharedPollRefreshRequest = import('rotor:centrifugo/types@0.1.0').SharedPollRefreshRequest;
  export type SharedPollRefreshReply = import('rotor:centrifugo/types@0.1.0').SharedPollRefreshReply;
}
