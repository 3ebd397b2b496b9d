declare module 'rotor:centrifugo/types@0.1.0' {
  /**
   * Key/value pairs: connection labels, publication tags.
   */
  export type StringMap = Array<[string, string]>;
  /**
   * gRPC metadata Centrifugo forwarded with the call: the proxy's
   * `static_metadata`, the client's `http_headers` / `emulated_headers`,
   * `grpc_metadata` of uni_grpc clients. Keys are lower case; gRPC's own
   * transport headers and Rotor's shared secret are removed.
   */
  export type Headers = Array<[string, string]>;
  /**
   * How a client is connected to Centrifugo.
   */
  export interface Connection {
    /**
     * Centrifugo's unique id of the connection.
     */
    client: string,
    /**
     * `websocket`, `http_stream`, `sse`, `uni_websocket`, `uni_grpc`, …
     */
    transport: string,
    /**
     * The client protocol: `json` or `protobuf`.
     */
    protocol: string,
    /**
     * The proxy's payload encoding: `json` or `binary`.
     */
    encoding: string,
  }
  /**
   * An error for the client's command (Centrifugo's `Error`).
   * 
   * Applications use codes 400–1999; built-in codes such as 103
   * (permission denied) are accepted too. `temporary` makes clients retry.
   */
  export interface CentrifugoError {
    code: number,
    message: string,
    temporary: boolean,
  }
  /**
   * Close the client's connection (Centrifugo's `Disconnect`).
   * 
   * Codes 4000–4499 let the client reconnect, 4500–4999 are terminal.
   * Keep `reason` short: 32 ASCII bytes is Centrifugo's advice.
   */
  export interface Disconnect {
    code: number,
    reason: string,
  }
  /**
   * How a channel in a capability is matched.
   * # Variants
   * 
   * ## `"exact"`
   * 
   * The channel names are exact.
   * ## `"wildcard"`
   * 
   * The channel names are wildcard patterns.
   */
  export type ChannelMatch = 'exact' | 'wildcard';
  /**
   * Permissions on channels granted to a connection.
   */
  export interface ChannelsCapability {
    channels: Array<string>,
    /**
     * Capability names: `pub`, `sub`, `prs`, `hst`, `agt`.
     */
    allow: Array<string>,
    match: ChannelMatch,
  }
  /**
   * Per-subscription overrides of the namespace options; `none` keeps the
   * namespace's setting.
   */
  export interface SubscribeOverrides {
    presence?: boolean,
    joinLeave?: boolean,
    forceRecovery?: boolean,
    forcePositioning?: boolean,
    forcePushJoinLeave?: boolean,
  }
  /**
   * One node of a server-side publication tags filter.
   */
  export interface FilterNode {
    /**
     * `""` for a leaf comparison, `and`, `or` or `not` for a group.
     */
    op: string,
    key: string,
    /**
     * `eq`, `neq`, `in`, `nin`, `ex`, `nex`, `sw`, `ew`, `ct`, `lt`, …
     */
    cmp: string,
    val: string,
    vals: Array<string>,
    /**
     * Indexes of this node's children in the filter's node list; each
     * must be greater than the node's own index, and every node but
     * the first must be the child of exactly one node.
     */
    children: Uint32Array,
  }
  /**
   * A filter tree, flattened: the first node is the root.
   */
  export type Filter = Array<FilterNode>;
  /**
   * A server-side subscription granted on connect.
   */
  export interface SubscribeOptions {
    /**
     * Unix seconds when the subscription expires; 0 never.
     */
    expireAt: bigint,
    info: Uint8Array,
    data: Uint8Array,
    overrides?: SubscribeOverrides,
    serverTagsFilter?: Filter,
    cacheRecover: boolean,
  }
  /**
   * `Connect`: a client opens a connection.
   */
  export interface ConnectRequest {
    conn: Connection,
    headers: Headers,
    /**
     * The client's name and version, as it reported them.
     */
    name: string,
    version: string,
    /**
     * The payload of the client's connect command (e.g. a token).
     */
    data: Uint8Array,
    /**
     * Channels the client asks to be subscribed to.
     */
    channels: Array<string>,
  }
  /**
   * The credentials and options of an accepted connection.
   */
  export interface ConnectResult {
    /**
     * The user id; empty for an anonymous user.
     */
    user: string,
    /**
     * Unix seconds when the connection expires; 0 never.
     */
    expireAt: bigint,
    info: Uint8Array,
    data: Uint8Array,
    /**
     * Server-side subscriptions, by channel name.
     */
    channels: Array<string>,
    subs: Array<[string, SubscribeOptions]>,
    /**
     * Connection meta: a JSON object, or empty.
     */
    meta: Uint8Array,
    caps: Array<ChannelsCapability>,
    labels: StringMap,
  }
  /**
   * The answer to a connect.
   */
  export type ConnectReply = ConnectReplyAccept | ConnectReplyReject | ConnectReplyDisconnect;
  export interface ConnectReplyAccept {
    tag: 'accept',
    val: ConnectResult,
  }
  export interface ConnectReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface ConnectReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * `Refresh`: a connection is about to expire.
   */
  export interface RefreshRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    /**
     * Connection meta, when the proxy has `include_connection_meta`.
     */
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * New terms for a connection that goes on.
   */
  export interface RefreshResult {
    /**
     * Unix seconds of the new expiry.
     */
    expireAt: bigint,
    /**
     * New connection info; empty keeps the current one.
     */
    info: Uint8Array,
    /**
     * New connection meta; empty keeps the current one.
     */
    meta: Uint8Array,
    caps: Array<ChannelsCapability>,
  }
  /**
   * The answer to a refresh. Centrifugo ignores errors here: a connection
   * is either extended or ends (disconnect 3005).
   */
  export type RefreshReply = RefreshReplyExtend | RefreshReplyExpire;
  export interface RefreshReplyExtend {
    tag: 'extend',
    val: RefreshResult,
  }
  export interface RefreshReplyExpire {
    tag: 'expire',
  }
  /**
   * `Subscribe`: a client subscribes to a channel.
   */
  export interface SubscribeRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    channel: string,
    /**
     * The subscription token the client sent, if any.
     */
    token: string,
    meta: Uint8Array,
    data: Uint8Array,
    labels: StringMap,
  }
  /**
   * The options of an accepted subscription.
   */
  export interface SubscribeResult {
    /**
     * Unix seconds when the subscription expires; 0 never.
     */
    expireAt: bigint,
    info: Uint8Array,
    data: Uint8Array,
    overrides?: SubscribeOverrides,
    /**
     * Capabilities inside the channel: `pub`, `prs`, `hst`, `agt`.
     */
    allow: Array<string>,
    serverTagsFilter?: Filter,
  }
  /**
   * The answer to a subscribe.
   */
  export type SubscribeReply = SubscribeReplyAccept | SubscribeReplyReject | SubscribeReplyDisconnect;
  export interface SubscribeReplyAccept {
    tag: 'accept',
    val: SubscribeResult,
  }
  export interface SubscribeReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface SubscribeReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * `Publish`: a client publishes into a channel.
   */
  export interface PublishRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    channel: string,
    data: Uint8Array,
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * How an accepted publication goes out.
   */
  export interface PublishResult {
    /**
     * Replacement data; `none` keeps the data as the call has it: the
     * client's, or an interceptor's rewrite of it (in an after hook:
     * the data of the reply it replaces).
     */
    data?: Uint8Array,
    skipHistory: boolean,
    tags: StringMap,
    idempotencyKey: string,
    delta: boolean,
    version: bigint,
    versionEpoch: string,
  }
  /**
   * The answer to a publish.
   */
  export type PublishReply = PublishReplyAccept | PublishReplyReject | PublishReplyDisconnect;
  export interface PublishReplyAccept {
    tag: 'accept',
    val: PublishResult,
  }
  export interface PublishReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface PublishReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * `RPC`: a client calls a method.
   */
  export interface RpcRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    method: string,
    data: Uint8Array,
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * The data an RPC answers with.
   */
  export interface RpcResult {
    data: Uint8Array,
  }
  /**
   * The answer to an RPC.
   */
  export type RpcReply = RpcReplyAccept | RpcReplyReject | RpcReplyDisconnect;
  export interface RpcReplyAccept {
    tag: 'accept',
    val: RpcResult,
  }
  export interface RpcReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface RpcReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * `SubRefresh`: a subscription is about to expire.
   */
  export interface SubRefreshRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    channel: string,
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * New terms for a subscription that goes on.
   */
  export interface SubRefreshResult {
    /**
     * Unix seconds of the new expiry.
     */
    expireAt: bigint,
    /**
     * New channel info; empty keeps the current one.
     */
    info: Uint8Array,
  }
  /**
   * The answer to a sub-refresh: extended, or the subscription ends (2501).
   */
  export type SubRefreshReply = SubRefreshReplyExtend | SubRefreshReplyExpire;
  export interface SubRefreshReplyExtend {
    tag: 'extend',
    val: SubRefreshResult,
  }
  export interface SubRefreshReplyExpire {
    tag: 'expire',
  }
  /**
   * `MapPublish`: a client publishes a key's state into a map channel.
   */
  export interface MapPublishRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    channel: string,
    /**
     * The key the client publishes.
     */
    key: string,
    data: Uint8Array,
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * How an accepted map publication goes out.
   */
  export interface MapPublishResult {
    /**
     * Replacement key; empty keeps the client's.
     */
    key: string,
    /**
     * Replacement data; `none` (or an empty list) keeps the data as the
     * call has it: the client's, or an interceptor's rewrite of it.
     */
    data?: Uint8Array,
    tags: StringMap,
    /**
     * Ordering score; Centrifugo v6.9.1 does not read it.
     */
    score: bigint,
    /**
     * `""` replaces the key's state, `if_new` publishes only a new
     * key, `if_exists` only an existing one.
     */
    keyMode: string,
    /**
     * Data for the map's stream; Centrifugo v6.9.1 does not read it.
     */
    streamData: Uint8Array,
    idempotencyKey: string,
    delta: boolean,
    version: bigint,
    versionEpoch: string,
  }
  /**
   * The answer to a map publish.
   */
  export type MapPublishReply = MapPublishReplyAccept | MapPublishReplyReject | MapPublishReplyDisconnect;
  export interface MapPublishReplyAccept {
    tag: 'accept',
    val: MapPublishResult,
  }
  export interface MapPublishReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface MapPublishReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * `MapRemove`: a client removes a key from a map channel.
   */
  export interface MapRemoveRequest {
    conn: Connection,
    headers: Headers,
    user: string,
    channel: string,
    /**
     * The key the client removes.
     */
    key: string,
    meta: Uint8Array,
    labels: StringMap,
  }
  /**
   * How an accepted removal goes out.
   */
  export interface MapRemoveResult {
    /**
     * Replacement key; empty keeps the key as the call has it.
     */
    key: string,
    tags: StringMap,
    idempotencyKey: string,
  }
  /**
   * The answer to a map remove.
   */
  export type MapRemoveReply = MapRemoveReplyAccept | MapRemoveReplyReject | MapRemoveReplyDisconnect;
  export interface MapRemoveReplyAccept {
    tag: 'accept',
    val: MapRemoveResult,
  }
  export interface MapRemoveReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  export interface MapRemoveReplyDisconnect {
    tag: 'disconnect',
    val: Disconnect,
  }
  /**
   * A key of a shared poll channel and the version Centrifugo holds.
   */
  export interface SharedPollItem {
    key: string,
    /**
     * The version Centrifugo has; 0 when it has none yet (or wants the
     * data sent again).
     */
    version: bigint,
  }
  /**
   * `SharedPollRefresh`: Centrifugo asks for the current state of keys
   * that clients of a shared poll channel track. No client is on the
   * call: Centrifugo makes it on a timer.
   */
  export interface SharedPollRefreshRequest {
    headers: Headers,
    channel: string,
    items: Array<SharedPollItem>,
  }
  /**
   * The current state of one key.
   */
  export interface SharedPollEntry {
    key: string,
    data: Uint8Array,
    /**
     * Newer than the version asked about, or the key counts as
     * unchanged; 0 on a channel without versions (changes are then
     * found by comparing data).
     */
    version: bigint,
    /**
     * The key is gone: its subscribers are told so.
     */
    removed: boolean,
    /**
     * The data before this version, as the base of a delta.
     */
    prevData: Uint8Array,
  }
  /**
   * Keys whose state changed. Keys not listed are unchanged.
   */
  export interface SharedPollRefreshResult {
    items: Array<SharedPollEntry>,
    /**
     * The data source's epoch: when it changes, Centrifugo drops what it
     * holds for the channel and its subscribers subscribe again.
     */
    epoch: string,
  }
  /**
   * The answer to a shared poll refresh. Centrifugo logs a `reject` and
   * keeps what it has; it asks again at the next interval.
   */
  export type SharedPollRefreshReply = SharedPollRefreshReplyAccept | SharedPollRefreshReplyReject;
  export interface SharedPollRefreshReplyAccept {
    tag: 'accept',
    val: SharedPollRefreshResult,
  }
  export interface SharedPollRefreshReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  /**
   * `NotifyCacheEmpty`: a channel's cache is empty; Centrifugo PRO asks
   * the backend to fill it (by publishing through the server API).
   */
  export interface NotifyCacheEmptyRequest {
    headers: Headers,
    channel: string,
  }
  /**
   * The answer to a cache-empty notice. Centrifugo's response has no
   * error: a plugin that cannot fill the cache answers `populated: false`.
   */
  export interface NotifyCacheEmptyReply {
    /**
     * Whether the backend published into the channel's cache.
     */
    populated: boolean,
  }
  /**
   * One change of a channel's state.
   */
  export interface ChannelEvent {
    /**
     * When it happened, in Unix milliseconds.
     */
    timeMs: bigint,
    channel: string,
    /**
     * `occupied` (the first subscriber came) or `vacated` (the last left).
     */
    type: string,
  }
  /**
   * `NotifyChannelState`: channels became occupied or vacated (Centrifugo
   * PRO). Rotor hands each call the events of one channel namespace.
   */
  export interface NotifyChannelStateRequest {
    headers: Headers,
    events: Array<ChannelEvent>,
  }
  /**
   * The answer to channel state events.
   */
  export type NotifyChannelStateReply = NotifyChannelStateReplyAccept | NotifyChannelStateReplyReject;
  export interface NotifyChannelStateReplyAccept {
    tag: 'accept',
  }
  export interface NotifyChannelStateReplyReject {
    tag: 'reject',
    val: CentrifugoError,
  }
  /**
   * Any proxy request, for interceptors that serve every type.
   */
  export type Request = RequestConnect | RequestRefresh | RequestSubscribe | RequestPublish | RequestRpc | RequestSubRefresh | RequestMapPublish | RequestMapRemove | RequestSharedPollRefresh | RequestNotifyCacheEmpty | RequestNotifyChannelState;
  export interface RequestConnect {
    tag: 'connect',
    val: ConnectRequest,
  }
  export interface RequestRefresh {
    tag: 'refresh',
    val: RefreshRequest,
  }
  export interface RequestSubscribe {
    tag: 'subscribe',
    val: SubscribeRequest,
  }
  export interface RequestPublish {
    tag: 'publish',
    val: PublishRequest,
  }
  export interface RequestRpc {
    tag: 'rpc',
    val: RpcRequest,
  }
  export interface RequestSubRefresh {
    tag: 'sub-refresh',
    val: SubRefreshRequest,
  }
  export interface RequestMapPublish {
    tag: 'map-publish',
    val: MapPublishRequest,
  }
  export interface RequestMapRemove {
    tag: 'map-remove',
    val: MapRemoveRequest,
  }
  export interface RequestSharedPollRefresh {
    tag: 'shared-poll-refresh',
    val: SharedPollRefreshRequest,
  }
  export interface RequestNotifyCacheEmpty {
    tag: 'notify-cache-empty',
    val: NotifyCacheEmptyRequest,
  }
  export interface RequestNotifyChannelState {
    tag: 'notify-channel-state',
    val: NotifyChannelStateRequest,
  }
  /**
   * Any proxy reply; its case must match the request's.
   */
  export type Reply = ReplyConnect | ReplyRefresh | ReplySubscribe | ReplyPublish | ReplyRpc | ReplySubRefresh | ReplyMapPublish | ReplyMapRemove | ReplySharedPollRefresh | ReplyNotifyCacheEmpty | ReplyNotifyChannelState;
  export interface ReplyConnect {
    tag: 'connect',
    val: ConnectReply,
  }
  export interface ReplyRefresh {
    tag: 'refresh',
    val: RefreshReply,
  }
  export interface ReplySubscribe {
    tag: 'subscribe',
    val: SubscribeReply,
  }
  export interface ReplyPublish {
    tag: 'publish',
    val: PublishReply,
  }
  export interface ReplyRpc {
    tag: 'rpc',
    val: RpcReply,
  }
  export interface ReplySubRefresh {
    tag: 'sub-refresh',
    val: SubRefreshReply,
  }
  export interface ReplyMapPublish {
    tag: 'map-publish',
    val: MapPublishReply,
  }
  export interface ReplyMapRemove {
    tag: 'map-remove',
    val: MapRemoveReply,
  }
  export interface ReplySharedPollRefresh {
    tag: 'shared-poll-refresh',
    val: SharedPollRefreshReply,
  }
  export interface ReplyNotifyCacheEmpty {
    tag: 'notify-cache-empty',
    val: NotifyCacheEmptyReply,
  }
  export interface ReplyNotifyChannelState {
    tag: 'notify-channel-state',
    val: NotifyChannelStateReply,
  }
}
