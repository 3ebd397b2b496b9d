/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/interceptor@0.1.0' {
  /**
   * Called before the next step.
   */
  export function before(context: CallContext, request: Request): Decision;
  /**
   * Called with the reply that came back from the next step, after a
   * `pass` or `rewrite` decision (not after this interceptor's own answer,
   * reject or disconnect). `none` keeps the reply; `some` replaces it with
   * a reply of the same type.
   */
  export function after(context: CallContext, reply: Reply): Reply | undefined;
  export type Request = import('rotor:centrifugo/types@0.1.0').Request;
  export type Reply = import('rotor:centrifugo/types@0.1.0').Reply;
  export type CentrifugoError = import('rotor:centrifugo/types@0.1.0').CentrifugoError;
  export type Disconnect = import('rotor:centrifugo/types@0.1.0').Disconnect;
  /**
   * Where a call comes from.
   */
  export interface CallContext {
    /**
     * The tenant the call belongs to.
     */
    tenant: string,
    /**
     * Unique per call in this Rotor process; the same in `before` and `after`.
     */
    callId: bigint,
  }
  /**
   * What to do with a call before the next step.
   */
  export type Decision = DecisionPass | DecisionRewrite | DecisionAnswer | DecisionReject | DecisionDisconnect;
  /**
   * Hand the call on unchanged.
   */
  export interface DecisionPass {
    tag: 'pass',
  }
  /**
   * Hand this request on instead; it must be of the same type.
   */
  export interface DecisionRewrite {
    tag: 'rewrite',
    val: Request,
  }
  /**
   * Answer now: later steps are skipped; the reply must match the request type.
   */
  export interface DecisionAnswer {
    tag: 'answer',
    val: Reply,
  }
  /**
   * Answer with an error (for refresh and sub-refresh: `expire`; for
   * notify-cache-empty: `populated: false`).
   */
  export interface DecisionReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  /**
   * Close the connection (for refresh and sub-refresh: `expire`). The
   * calls no client is on (shared-poll-refresh, notify-cache-empty,
   * notify-channel-state) have no connection to close: there it
   * answers as a `reject` with error 100 and the reason as message.
   */
  export interface DecisionDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
}
