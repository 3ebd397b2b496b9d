// Package exports holds the component's exported functions: generated
// files, one per WIT interface behind a build tag, and the hooks below that
// they call.
package exports

import (
	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_interceptor"
	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_types"
	"rotor.dev/rotor/wit"
)

// The handlers the exported functions call, set by the rotor package's
// registrations. An exported function whose hook is nil traps, which the
// host answers with an internal error.
var (
	Connect    func(rotor_centrifugo_types.ConnectRequest) rotor_centrifugo_types.ConnectReply
	Refresh    func(rotor_centrifugo_types.RefreshRequest) rotor_centrifugo_types.RefreshReply
	Subscribe  func(rotor_centrifugo_types.SubscribeRequest) rotor_centrifugo_types.SubscribeReply
	Publish    func(rotor_centrifugo_types.PublishRequest) rotor_centrifugo_types.PublishReply
	RPC        func(rotor_centrifugo_types.RpcRequest) rotor_centrifugo_types.RpcReply
	SubRefresh func(rotor_centrifugo_types.SubRefreshRequest) rotor_centrifugo_types.SubRefreshReply
	MapPublish func(rotor_centrifugo_types.MapPublishRequest) rotor_centrifugo_types.MapPublishReply
	MapRemove  func(rotor_centrifugo_types.MapRemoveRequest) rotor_centrifugo_types.MapRemoveReply
	// SharedPollRefresh, NotifyCacheEmpty and NotifyChannelState answer the
	// calls Centrifugo makes with no client behind them.
	SharedPollRefresh  func(rotor_centrifugo_types.SharedPollRefreshRequest) rotor_centrifugo_types.SharedPollRefreshReply
	NotifyCacheEmpty   func(rotor_centrifugo_types.NotifyCacheEmptyRequest) rotor_centrifugo_types.NotifyCacheEmptyReply
	NotifyChannelState func(rotor_centrifugo_types.NotifyChannelStateRequest) rotor_centrifugo_types.NotifyChannelStateReply
	Before     func(rotor_centrifugo_interceptor.CallContext, rotor_centrifugo_types.Request) rotor_centrifugo_interceptor.Decision
	After      func(rotor_centrifugo_interceptor.CallContext, rotor_centrifugo_types.Reply) wit.Option[rotor_centrifugo_types.Reply]
)
