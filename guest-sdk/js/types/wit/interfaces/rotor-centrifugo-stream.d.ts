/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/stream@0.1.0' {
  /**
   * Sends a publication to the subscriber once the callback returns.
   * Fails once the stream is closing, past the host's publications per
   * callback, or when `data` and `tags` are over the tenant's `max_reply`.
   */
  export function publish(data: Uint8Array, tags: StringMap): void;
  /**
   * Asks for `on-wake` after `ms` milliseconds (at least 10); replaces an
   * earlier request.
   */
  export function wakeAfter(ms: number): void;
  /**
   * Ends the stream once this callback returns: Centrifugo unsubscribes
   * the client with its "server unsubscribe" code.
   */
  export function close(): void;
  export type StringMap = import('rotor:centrifugo/types@0.1.0').StringMap;
}
