// Package rotor writes Rotor plugins in Go: WebAssembly components that
// answer Centrifugo's proxy calls (connect, refresh, subscribe, publish, RPC,
// sub-refresh) or intercept them.
//
// A plugin is a main package that registers its handlers in an init
// function; `rotor-build main.go -o plugin.wasm` turns it into a component
// that exports what it registered and imports only the host packages it
// uses (log, config, kv, api):
//
//	package main
//
//	import "rotor.dev/rotor"
//
//	func init() {
//		rotor.Subscribe(func(req rotor.SubscribeRequest) (rotor.SubscribeResult, error) {
//			if req.Channel == "user:"+req.User {
//				return rotor.SubscribeResult{}, nil
//			}
//			return rotor.SubscribeResult{}, rotor.PermissionDenied()
//		})
//	}
//
//	func main() {}
//
// Requests and results are the records of the WIT contract, with Go field
// names; byte payloads are []byte, key/value lists are []Pair and optional
// values are Option. A handler answers with its result, or refuses with an
// error made by Reject, Disconnect or one of the built-in errors such as
// PermissionDenied. Any other error, or a panic, fails the call: the host
// answers `100 internal server error` and logs the message.
package rotor

import (
	"strings"
	"time"

	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_types"
	"rotor.dev/rotor/wit"
)

// The records of the WIT contract, as handlers see them.
type (
	// Connection says how a client is connected to Centrifugo.
	Connection = rotor_centrifugo_types.Connection
	// ConnectRequest is a client opening a connection.
	ConnectRequest = rotor_centrifugo_types.ConnectRequest
	// ConnectResult is an accepted connection: its user and options.
	ConnectResult = rotor_centrifugo_types.ConnectResult
	// RefreshRequest is a connection about to expire.
	RefreshRequest = rotor_centrifugo_types.RefreshRequest
	// RefreshResult is the new terms of a connection that goes on.
	RefreshResult = rotor_centrifugo_types.RefreshResult
	// SubscribeRequest is a client subscribing to a channel.
	SubscribeRequest = rotor_centrifugo_types.SubscribeRequest
	// SubscribeResult is an accepted subscription and its options.
	SubscribeResult = rotor_centrifugo_types.SubscribeResult
	// PublishRequest is a client publishing into a channel.
	PublishRequest = rotor_centrifugo_types.PublishRequest
	// PublishResult is how an accepted publication goes out.
	PublishResult = rotor_centrifugo_types.PublishResult
	// RPCRequest is a client calling a method.
	RPCRequest = rotor_centrifugo_types.RpcRequest
	// RPCResult is the data an RPC answers with.
	RPCResult = rotor_centrifugo_types.RpcResult
	// SubRefreshRequest is a subscription about to expire.
	SubRefreshRequest = rotor_centrifugo_types.SubRefreshRequest
	// SubRefreshResult is the new terms of a subscription that goes on.
	SubRefreshResult = rotor_centrifugo_types.SubRefreshResult
	// MapPublishRequest is a client publishing a key's state into a map channel.
	MapPublishRequest = rotor_centrifugo_types.MapPublishRequest
	// MapPublishResult is how an accepted map publication goes out.
	MapPublishResult = rotor_centrifugo_types.MapPublishResult
	// MapRemoveRequest is a client removing a key from a map channel.
	MapRemoveRequest = rotor_centrifugo_types.MapRemoveRequest
	// MapRemoveResult is how an accepted removal goes out.
	MapRemoveResult = rotor_centrifugo_types.MapRemoveResult
	// SharedPollRefreshRequest is Centrifugo asking for the state of a shared
	// poll channel's keys.
	SharedPollRefreshRequest = rotor_centrifugo_types.SharedPollRefreshRequest
	// SharedPollRefreshResult lists the keys that changed.
	SharedPollRefreshResult = rotor_centrifugo_types.SharedPollRefreshResult
	// SharedPollEntry is the current state of one key.
	SharedPollEntry = rotor_centrifugo_types.SharedPollEntry
	// NotifyCacheEmptyRequest says a channel's cache is empty.
	NotifyCacheEmptyRequest = rotor_centrifugo_types.NotifyCacheEmptyRequest
	// NotifyChannelStateRequest carries channel occupied/vacated events.
	NotifyChannelStateRequest = rotor_centrifugo_types.NotifyChannelStateRequest
	// ChannelEvent is one change of a channel's state.
	ChannelEvent = rotor_centrifugo_types.ChannelEvent
	// SubscribeOptions is a server-side subscription granted on connect.
	SubscribeOptions = rotor_centrifugo_types.SubscribeOptions
	// SubscribeOverrides overrides a namespace's options for one subscription.
	SubscribeOverrides = rotor_centrifugo_types.SubscribeOverrides
	// ChannelsCapability grants permissions on channels to a connection.
	ChannelsCapability = rotor_centrifugo_types.ChannelsCapability
	// FilterNode is one node of a publication tags filter.
	FilterNode = rotor_centrifugo_types.FilterNode
)

// Pair is one key/value pair of headers, labels or tags.
type Pair = wit.Tuple2[string, string]

// Option is an optional value of the WIT contract.
type Option[T any] = wit.Option[T]

// Some is an Option holding value.
func Some[T any](value T) Option[T] { return wit.Some(value) }

// None is an empty Option.
func None[T any]() Option[T] { return wit.None[T]() }

// P makes a Pair.
func P(key, value string) Pair { return Pair{F0: key, F1: value} }

// Header is the first value of the header name in headers, ignoring the
// case of the name, and whether there is one.
func Header(headers []Pair, name string) (string, bool) {
	for _, pair := range headers {
		if strings.EqualFold(pair.F0, name) {
			return pair.F1, true
		}
	}
	return "", false
}

// UnixNow is the current time in Unix seconds.
func UnixNow() int64 { return time.Now().Unix() }
