/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/notify-cache-empty-handler@0.1.0' {
  export function handle(request: NotifyCacheEmptyRequest): NotifyCacheEmptyReply;
  export type NotifyCacheEmptyRequest = import('rotor:centrifugo/types@0.1.0').NotifyCacheEmptyRequest;
  export type NotifyCacheEmptyReply = import('rotor:centrifugo/types@0.1.0').NotifyCacheEmptyReply;
}
