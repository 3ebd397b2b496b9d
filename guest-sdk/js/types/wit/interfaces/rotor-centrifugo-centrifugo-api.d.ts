/// <reference path="./rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/centrifugo-api@0.1.0' {
  /**
   * Publishes `data` into `channel`.
   */
  export function publish(channel: string, data: Uint8Array, options: PublishOptions): StreamPosition;
  /**
   * Publishes `data` into each of `channels`; one result per channel.
   */
  export function broadcast(channels: Array<string>, data: Uint8Array, options: PublishOptions): Array<Result<StreamPosition, ApiError>>;
  /**
   * Subscribes all connections of `user` (or only `client`, if not empty) to `channel`.
   */
  export function subscribe(user: string, channel: string, client: string): void;
  /**
   * Unsubscribes `user` (or only `client`, if not empty) from `channel`.
   */
  export function unsubscribe(user: string, channel: string, client: string): void;
  /**
   * Disconnects `user` (or only `client`, if not empty) with `code` (4000–4999) and `reason`.
   */
  export function disconnect(user: string, client: string, code: number, reason: string): void;
  /**
   * Sets a new expiry for the connections of `user`, or expires them.
   */
  export function refresh(user: string, client: string, expireAt: bigint, expired: boolean): void;
  /**
   * The connections in `channel`.
   */
  export function presence(channel: string): Array<ClientInfo>;
  /**
   * The number of connections and users in `channel`.
   */
  export function presenceStats(channel: string): PresenceCounts;
  /**
   * Reads `channel`'s history.
   */
  export function history(channel: string, query: HistoryQuery): HistoryPage;
  /**
   * Removes `channel`'s history.
   */
  export function historyRemove(channel: string): void;
  /**
   * Active channels matching `pattern` (empty: all), with their number of clients.
   */
  export function channels(pattern: string): Array<[string, number]>;
  /**
   * The nodes of the Centrifugo cluster.
   */
  export function info(): Array<Node>;
  /**
   * Sends `commands` in one API call (one of the per-call budget), in
   * order or, with `parallel`, at once; one result per command.
   */
  export function batch(commands: Array<Command>, parallel: boolean): Array<Result<void, ApiError>>;
  export type StringMap = import('rotor:centrifugo/types@0.1.0').StringMap;
  /**
   * An error Centrifugo returned.
   */
  export interface CentrifugoFailure {
    code: number,
    message: string,
  }
  /**
   * Why an API call failed.
   */
  export type ApiError = ApiErrorCentrifugo | ApiErrorDenied | ApiErrorUnavailable | ApiErrorTimeout;
  /**
   * Centrifugo answered with an error: its code (e.g. 102 unknown
   * channel, 107 bad request, 108 not available) and message.
   */
  export interface ApiErrorCentrifugo {
    tag: 'centrifugo',
    val: CentrifugoFailure,
  }
  /**
   * The call is outside what this plugin may do (e.g. the channel's
   * namespace is not granted, or the per-call budget of API calls is spent).
   */
  export interface ApiErrorDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * The API is not configured or could not be reached.
   */
  export interface ApiErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
  /**
   * No answer within the time left for this call.
   */
  export interface ApiErrorTimeout {
    tag: 'timeout',
  }
  /**
   * Options of a publication.
   */
  export interface PublishOptions {
    skipHistory: boolean,
    tags: StringMap,
    /**
     * Centrifugo drops a second publication with the same key for a while.
     */
    idempotencyKey: string,
    delta: boolean,
  }
  /**
   * Where a publication landed in the channel's history stream.
   */
  export interface StreamPosition {
    offset: bigint,
    epoch: string,
  }
  /**
   * A connection present in a channel.
   */
  export interface ClientInfo {
    user: string,
    client: string,
    connInfo: Uint8Array,
    chanInfo: Uint8Array,
  }
  /**
   * Counts of a channel's presence.
   */
  export interface PresenceCounts {
    numClients: number,
    numUsers: number,
  }
  /**
   * A publication from a channel's history.
   */
  export interface Publication {
    data: Uint8Array,
    info?: ClientInfo,
    offset: bigint,
    tags: StringMap,
  }
  /**
   * A page of a channel's history.
   */
  export interface HistoryPage {
    publications: Array<Publication>,
    /**
     * The stream's current position.
     */
    epoch: string,
    offset: bigint,
  }
  /**
   * What to read from a channel's history.
   */
  export interface HistoryQuery {
    /**
     * Publications at most; 0 reads only the stream position.
     */
    limit: number,
    /**
     * Start after this position instead of at the beginning (or end).
     */
    since?: StreamPosition,
    /**
     * Newest first.
     */
    reverse: boolean,
  }
  /**
   * A Centrifugo node.
   */
  export interface Node {
    uid: string,
    name: string,
    version: string,
    numClients: number,
    numUsers: number,
    numChannels: number,
    numSubs: number,
    uptime: number,
  }
  /**
   * A publication of a batch.
   */
  export interface PublishCommand {
    channel: string,
    data: Uint8Array,
    options: PublishOptions,
  }
  /**
   * A user's (or one client's, if `client` is not empty) membership of a channel.
   */
  export interface Membership {
    user: string,
    channel: string,
    client: string,
  }
  /**
   * A disconnect of a batch.
   */
  export interface DisconnectCommand {
    user: string,
    client: string,
    code: number,
    reason: string,
  }
  /**
   * One command of a batch.
   */
  export type Command = CommandPublish | CommandSubscribe | CommandUnsubscribe | CommandDisconnect | CommandHistoryRemove;
  export interface CommandPublish {
    tag: 'publish',
    val: PublishCommand,
  }
  export interface CommandSubscribe {
    tag: 'subscribe',
    val: Membership,
  }
  export interface CommandUnsubscribe {
    tag: 'unsubscribe',
    val: Membership,
  }
  export interface CommandDisconnect {
    tag: 'disconnect',
    val: DisconnectCommand,
  }
  export interface CommandHistoryRemove {
    tag: 'history-remove',
    val: string,
  }
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
