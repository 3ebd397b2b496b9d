/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/stream-handler@0.1.0' {
  /**
   * The stream opens: `accept` starts the subscription, `reject` and
   * `disconnect` refuse it as `subscribe-handler` does. Publications
   * made here go out right after the accepted reply.
   */
  export function open(request: SubscribeRequest): SubscribeReply;
  /**
   * The timer asked for with `stream.wake-after` fired.
   */
  export function onWake(): void;
  /**
   * The client published `data` into the channel (the bidirectional
   * form only: Centrifugo's `subscribe_stream_proxy_bidirectional`).
   */
  export function onClientData(data: Uint8Array): void;
  export type SubscribeRequest = import('rotor:centrifugo/types@0.1.0').SubscribeRequest;
  export type SubscribeReply = import('rotor:centrifugo/types@0.1.0').SubscribeReply;
}
