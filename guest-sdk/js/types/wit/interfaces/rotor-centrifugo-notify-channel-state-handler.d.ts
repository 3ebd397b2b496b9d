/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/notify-channel-state-handler@0.1.0' {
  export function handle(request: NotifyChannelStateRequest): NotifyChannelStateReply;
  export type NotifyChannelStateRequest = import('rotor:centrifugo/types@0.1.0').NotifyChannelStateRequest;
  export type NotifyChannelStateReply = import('rotor:centrifugo/types@0.1.0').NotifyChannelStateReply;
}
