/// <reference path="./interfaces/rotor-centrifugo-centrifugo-api.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-config.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-connect-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-interceptor.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-kv.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-log.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-map-publish-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-map-remove-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-notify-cache-empty-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-notify-channel-state-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-publish-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-refresh-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-rpc-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-shared-poll-refresh-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-stream-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-stream.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-sub-refresh-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-subscribe-handler.d.ts" />
/// <reference path="./interfaces/rotor-centrifugo-types.d.ts" />
declare module 'rotor:centrifugo/host@0.1.0' {
  export type * as RotorCentrifugoCentrifugoApi010 from 'rotor:centrifugo/centrifugo-api@0.1.0'; // import rotor:centrifugo/centrifugo-api@0.1.0
  export type * as RotorCentrifugoConfig010 from 'rotor:centrifugo/config@0.1.0'; // import rotor:centrifugo/config@0.1.0
  export type * as RotorCentrifugoKv010 from 'rotor:centrifugo/kv@0.1.0'; // import rotor:centrifugo/kv@0.1.0
  export type * as RotorCentrifugoLog010 from 'rotor:centrifugo/log@0.1.0'; // import rotor:centrifugo/log@0.1.0
  export type * as RotorCentrifugoStream010 from 'rotor:centrifugo/stream@0.1.0'; // import rotor:centrifugo/stream@0.1.0
  export type * as RotorCentrifugoTypes010 from 'rotor:centrifugo/types@0.1.0'; // import rotor:centrifugo/types@0.1.0
  export * as connectHandler from 'rotor:centrifugo/connect-handler@0.1.0'; // export rotor:centrifugo/connect-handler@0.1.0
  export * as refreshHandler from 'rotor:centrifugo/refresh-handler@0.1.0'; // export rotor:centrifugo/refresh-handler@0.1.0
  export * as subscribeHandler from 'rotor:centrifugo/subscribe-handler@0.1.0'; // export rotor:centrifugo/subscribe-handler@0.1.0
  export * as publishHandler from 'rotor:centrifugo/publish-handler@0.1.0'; // export rotor:centrifugo/publish-handler@0.1.0
  export * as rpcHandler from 'rotor:centrifugo/rpc-handler@0.1.0'; // export rotor:centrifugo/rpc-handler@0.1.0
  export * as subRefreshHandler from 'rotor:centrifugo/sub-refresh-handler@0.1.0'; // export rotor:centrifugo/sub-refresh-handler@0.1.0
  export * as mapPublishHandler from 'rotor:centrifugo/map-publish-handler@0.1.0'; // export rotor:centrifugo/map-publish-handler@0.1.0
  export * as mapRemoveHandler from 'rotor:centrifugo/map-remove-handler@0.1.0'; // export rotor:centrifugo/map-remove-handler@0.1.0
  export * as sharedPollRefreshHandler from 'rotor:centrifugo/shared-poll-refresh-handler@0.1.0'; // export rotor:centrifugo/shared-poll-refresh-handler@0.1.0
  export * as notifyCacheEmptyHandler from 'rotor:centrifugo/notify-cache-empty-handler@0.1.0'; // export rotor:centrifugo/notify-cache-empty-handler@0.1.0
  export * as notifyChannelStateHandler from 'rotor:centrifugo/notify-channel-state-handler@0.1.0'; // export rotor:centrifugo/notify-channel-state-handler@0.1.0
  export * as streamHandler from 'rotor:centrifugo/stream-handler@0.1.0'; // export rotor:centrifugo/stream-handler@0.1.0
  export * as interceptor from 'rotor:centrifugo/interceptor@0.1.0'; // export rotor:centrifugo/interceptor@0.1.0
}
