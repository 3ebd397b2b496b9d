// Types of `@rotor/sdk`. The WIT records come from `./wit`, generated from
// the repository's WIT by `rotor-build types`; this file only adds the
// SDK's helpers on top of them.
/// <reference path="./wit/host.d.ts" />

import type * as wit from 'rotor:centrifugo/types@0.1.0';
import type * as witInterceptor from 'rotor:centrifugo/interceptor@0.1.0';

export type {
  Connection, Headers, StringMap, ChannelsCapability, ChannelMatch, SubscribeOverrides,
  FilterNode, Filter, SubscribeOptions,
  ConnectRequest, ConnectResult, ConnectReply,
  RefreshRequest, RefreshResult, RefreshReply,
  SubscribeRequest, SubscribeResult, SubscribeReply,
  PublishRequest, PublishResult, PublishReply,
  RpcRequest, RpcResult, RpcReply,
  SubRefreshRequest, SubRefreshResult, SubRefreshReply,
  MapPublishRequest, MapPublishResult, MapPublishReply,
  MapRemoveRequest, MapRemoveResult, MapRemoveReply,
  SharedPollItem, SharedPollRefreshRequest, SharedPollEntry, SharedPollRefreshResult,
  SharedPollRefreshReply,
  NotifyCacheEmptyRequest, NotifyCacheEmptyReply,
  ChannelEvent, NotifyChannelStateRequest, NotifyChannelStateReply,
  Request, Reply,
} from 'rotor:centrifugo/types@0.1.0';
export type { CallContext, Decision } from 'rotor:centrifugo/interceptor@0.1.0';

/** What byte fields accept: bytes, a string (UTF-8) or any other value (JSON). */
export type BytesLike = Uint8Array | string | number | boolean | object | null;
/** Unix seconds, as a number or a bigint. */
export type UnixTime = number | bigint;

/** Replaces the byte and time fields of a result record with friendlier types, all optional. */
type Fields<T> = {
  [K in keyof T]?: K extends 'info' | 'data' | 'meta' | 'streamData' | 'prevData'
    ? (undefined extends T[K] ? BytesLike | undefined : BytesLike)
    : K extends 'expireAt' | 'version' | 'score' ? UnixTime
    : K extends 'items' ? Array<Fields<wit.SharedPollEntry> & { key: string }> : T[K];
};

declare const allowed: unique symbol;
declare const extended: unique symbol;
declare const expired: unique symbol;
declare const passed: unique symbol;
declare const rewritten: unique symbol;

/** `allow(…)`: accepts a connect, subscribe, publish or RPC call. */
export interface Allow<T = unknown> { readonly [allowed]: Fields<T> }
/** `extend(…)`: extends a refresh or sub-refresh. */
export interface Extend<T = unknown> { readonly [extended]: Fields<T> }
/** `expire()`: ends the connection or subscription. */
export interface Expire { readonly [expired]: true }
/** `pass()`: an interceptor hands the call on unchanged. */
export interface Pass { readonly [passed]: true }
/** `rewrite(…)`: an interceptor hands on another request. */
export interface Rewrite { readonly [rewritten]: wit.Request | object }

/** An error for the client's command (Centrifugo's `Error`). */
export class CentrifugoError extends Error {
  constructor(code: number, message: string, options?: { temporary?: boolean });
  readonly code: number;
  readonly temporary: boolean;
}
/** Closes the client's connection (Centrifugo's `Disconnect`). */
export class DisconnectError extends Error {
  constructor(code: number, reason: string);
  readonly code: number;
  readonly reason: string;
}

/** What a handler may answer (or throw: `CentrifugoError`, `DisconnectError`). */
export type Outcome<Result, Reply> = Allow<Result> | Reply | CentrifugoError | DisconnectError;
/** What a refresh or sub-refresh handler may answer. */
export type RefreshOutcome<Result, Reply> = Extend<Result> | Expire | Reply | CentrifugoError | DisconnectError;

/** `export function connect(request) { … }` */
export type ConnectHandler = (request: wit.ConnectRequest) => Outcome<wit.ConnectResult, wit.ConnectReply>;
/** `export function refresh(request) { … }` */
export type RefreshHandler = (request: wit.RefreshRequest) => RefreshOutcome<wit.RefreshResult, wit.RefreshReply>;
/** `export function subscribe(request) { … }` */
export type SubscribeHandler = (request: wit.SubscribeRequest) => Outcome<wit.SubscribeResult, wit.SubscribeReply>;
/** `export function publish(request) { … }` */
export type PublishHandler = (request: wit.PublishRequest) => Outcome<wit.PublishResult, wit.PublishReply>;
/** `export function rpc(request) { … }` */
export type RpcHandler = (request: wit.RpcRequest) => Outcome<wit.RpcResult, wit.RpcReply>;
/** `export function subRefresh(request) { … }` */
export type SubRefreshHandler = (request: wit.SubRefreshRequest) => RefreshOutcome<wit.SubRefreshResult, wit.SubRefreshReply>;
/** `export function mapPublish(request) { … }` */
export type MapPublishHandler = (request: wit.MapPublishRequest) => Outcome<wit.MapPublishResult, wit.MapPublishReply>;
/** `export function mapRemove(request) { … }` */
export type MapRemoveHandler = (request: wit.MapRemoveRequest) => Outcome<wit.MapRemoveResult, wit.MapRemoveReply>;
/** `export function sharedPollRefresh(request) { … }`: `allow({ items, epoch })` lists the keys that changed. */
export type SharedPollRefreshHandler = (request: wit.SharedPollRefreshRequest) =>
  Outcome<wit.SharedPollRefreshResult, wit.SharedPollRefreshReply>;
/** `export function notifyCacheEmpty(request) { … }`: whether the cache was populated. */
export type NotifyCacheEmptyHandler = (request: wit.NotifyCacheEmptyRequest) => boolean | wit.NotifyCacheEmptyReply;
/** `export function notifyChannelState(request) { … }`: nothing (or `allow()`) takes the events. */
export type NotifyChannelStateHandler = (request: wit.NotifyChannelStateRequest) =>
  void | Allow | wit.NotifyChannelStateReply | CentrifugoError;
/** `export function before(context, request) { … }`: nothing passes the call on. */
export type BeforeHook = (context: witInterceptor.CallContext, request: wit.Request) =>
  void | Pass | Rewrite | Allow | Extend | Expire | wit.Reply | witInterceptor.Decision | CentrifugoError | DisconnectError;
/** `export function after(context, reply) { … }`: nothing keeps the reply. */
export type AfterHook = (context: witInterceptor.CallContext, reply: wit.Reply) =>
  void | Allow | Extend | Expire | wit.Reply | CentrifugoError | DisconnectError;

export function allow<T = any>(fields?: Fields<T>): Allow<T>;
export function extend<T = any>(fields?: Fields<T>): Extend<T>;
export function expire(): Expire;
export function pass(): Pass;
export function rewrite(request: wit.Request | object): Rewrite;

/** `100 internal server error`, temporary. */
export function internalError(): CentrifugoError;
/** `101 unauthorized`. */
export function unauthorized(): CentrifugoError;
/** `103 permission denied`. */
export function permissionDenied(): CentrifugoError;
/** `104 method not found`. */
export function methodNotFound(): CentrifugoError;
/** `106 limit exceeded`. */
export function limitExceeded(message?: string): CentrifugoError;
/** `107 bad request`. */
export function badRequest(message?: string): CentrifugoError;
/** `109 token expired`. */
export function tokenExpired(): CentrifugoError;
/** `111 too many requests`, temporary. */
export function tooManyRequests(): CentrifugoError;
/** Closes the connection: 4000–4499 reconnect, 4500–4999 terminal. */
export function disconnect(code: number, reason: string): DisconnectError;

/** Bytes from bytes, a string (UTF-8) or any other value (JSON). */
export function bytes(value: BytesLike | undefined): Uint8Array;
/** The UTF-8 text of `data`. */
export function text(data: Uint8Array): string;
/** The JSON value in `data`, or `undefined` if it is empty or not JSON. */
export function json(data: Uint8Array): any;
/** The value of header `name` (any case). */
export function header(headers: Array<[string, string]>, name: string): string | undefined;
/** Now, in whole Unix seconds. */
export function unixNow(): number;
/** The request kinds, as `request.tag` names them. */
export const KINDS: ReadonlyArray<
  'connect' | 'refresh' | 'subscribe' | 'publish' | 'rpc' | 'sub-refresh' | 'map-publish' | 'map-remove'
  | 'shared-poll-refresh' | 'notify-cache-empty' | 'notify-channel-state'
>;

/**
 * `export const subscribeStream = { open(request) { … }, onWake() { … }, onClientData(data) { … } }`:
 * a subscription stream. One instance serves one stream, so module-level
 * variables keep its state between callbacks. `open` answers as a subscribe
 * handler does; the others may be left out.
 */
export interface SubscribeStreamHandler {
  /** The stream opens: `allow(…)` starts it, an error or a disconnect refuses it. */
  open(request: wit.SubscribeRequest): Outcome<wit.SubscribeResult, wit.SubscribeReply>;
  /** The timer asked for with `wakeAfter` fired. */
  onWake?(): void;
  /** The client published `data` (the bidirectional form only). */
  onClientData?(data: Uint8Array): void;
}
