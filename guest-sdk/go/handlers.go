package rotor

import (
	"errors"

	"rotor.dev/rotor/internal/bindings/exports"
	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_types"
)

// errExpire is the error Expire returns.
var errExpire = errors.New("expire")

// Expire is the error a refresh or sub-refresh handler returns to end the
// connection or subscription. Errors made by Reject or Disconnect end it
// too: Centrifugo has no other answer there.
func Expire() error { return errExpire }

// once panics when a handler of kind is registered a second time.
func once(kind string, registered bool) {
	if registered {
		panic("rotor: a " + kind + " handler is registered twice")
	}
}

func toCentrifugoError(e *Error) rotor_centrifugo_types.CentrifugoError {
	return rotor_centrifugo_types.CentrifugoError{Code: e.Code, Message: e.Message, Temporary: e.Temporary}
}

func toDisconnect(d *DisconnectError) rotor_centrifugo_types.Disconnect {
	return rotor_centrifugo_types.Disconnect{Code: d.Code, Reason: d.Reason}
}

// answer turns a handler's outcome into its reply variant: accept on
// success, reject or disconnect on an Error or DisconnectError, and a trap
// on any other error.
func answer[Result, Reply any](
	kind string, result Result, err error,
	accept func(Result) Reply,
	reject func(rotor_centrifugo_types.CentrifugoError) Reply,
	disconnect func(rotor_centrifugo_types.Disconnect) Reply,
) Reply {
	if err == nil {
		return accept(result)
	}
	switch refused, closed := refusal(err); {
	case refused != nil:
		return reject(toCentrifugoError(refused))
	case closed != nil:
		return disconnect(toDisconnect(closed))
	}
	fail(kind, err)
	panic("unreachable")
}

// extend turns a refresh or sub-refresh handler's outcome into whether the
// connection or subscription goes on.
func extend(kind string, err error) bool {
	if err == nil {
		return true
	}
	if refused, closed := refusal(err); refused != nil || closed != nil || errors.Is(err, errExpire) {
		return false
	}
	fail(kind, err)
	panic("unreachable")
}

// Connect registers the handler of Connect: it returns the accepted
// connection, or an error that refuses it.
func Connect(handler func(ConnectRequest) (ConnectResult, error)) {
	once("connect", exports.Connect != nil)
	exports.Connect = func(request rotor_centrifugo_types.ConnectRequest) rotor_centrifugo_types.ConnectReply {
		result, err := handler(request)
		return answer("connect", result, err, rotor_centrifugo_types.MakeConnectReplyAccept,
			rotor_centrifugo_types.MakeConnectReplyReject, rotor_centrifugo_types.MakeConnectReplyDisconnect)
	}
}

// Refresh registers the handler of Refresh: it returns the connection's new
// terms, or an error (such as Expire()) that ends the connection.
func Refresh(handler func(RefreshRequest) (RefreshResult, error)) {
	once("refresh", exports.Refresh != nil)
	exports.Refresh = func(request rotor_centrifugo_types.RefreshRequest) rotor_centrifugo_types.RefreshReply {
		result, err := handler(request)
		if extend("refresh", err) {
			return rotor_centrifugo_types.MakeRefreshReplyExtend(result)
		}
		return rotor_centrifugo_types.MakeRefreshReplyExpire()
	}
}

// Subscribe registers the handler of Subscribe: it returns the accepted
// subscription, or an error that refuses it.
func Subscribe(handler func(SubscribeRequest) (SubscribeResult, error)) {
	once("subscribe", exports.Subscribe != nil)
	exports.Subscribe = func(request rotor_centrifugo_types.SubscribeRequest) rotor_centrifugo_types.SubscribeReply {
		result, err := handler(request)
		return answer("subscribe", result, err, rotor_centrifugo_types.MakeSubscribeReplyAccept,
			rotor_centrifugo_types.MakeSubscribeReplyReject, rotor_centrifugo_types.MakeSubscribeReplyDisconnect)
	}
}

// Publish registers the handler of Publish: it returns how the publication
// goes out, or an error that refuses it.
func Publish(handler func(PublishRequest) (PublishResult, error)) {
	once("publish", exports.Publish != nil)
	exports.Publish = func(request rotor_centrifugo_types.PublishRequest) rotor_centrifugo_types.PublishReply {
		result, err := handler(request)
		return answer("publish", result, err, rotor_centrifugo_types.MakePublishReplyAccept,
			rotor_centrifugo_types.MakePublishReplyReject, rotor_centrifugo_types.MakePublishReplyDisconnect)
	}
}

// RPC registers the handler of RPC: it returns the answer's data, or an
// error that refuses the call.
func RPC(handler func(RPCRequest) (RPCResult, error)) {
	once("rpc", exports.RPC != nil)
	exports.RPC = func(request rotor_centrifugo_types.RpcRequest) rotor_centrifugo_types.RpcReply {
		result, err := handler(request)
		return answer("rpc", result, err, rotor_centrifugo_types.MakeRpcReplyAccept,
			rotor_centrifugo_types.MakeRpcReplyReject, rotor_centrifugo_types.MakeRpcReplyDisconnect)
	}
}

// SubRefresh registers the handler of SubRefresh: it returns the
// subscription's new terms, or an error (such as Expire()) that ends it.
func SubRefresh(handler func(SubRefreshRequest) (SubRefreshResult, error)) {
	once("sub-refresh", exports.SubRefresh != nil)
	exports.SubRefresh = func(request rotor_centrifugo_types.SubRefreshRequest) rotor_centrifugo_types.SubRefreshReply {
		result, err := handler(request)
		if extend("sub-refresh", err) {
			return rotor_centrifugo_types.MakeSubRefreshReplyExtend(result)
		}
		return rotor_centrifugo_types.MakeSubRefreshReplyExpire()
	}
}

// MapPublish registers the handler of MapPublish: it returns how the key's
// new state goes out (a zero result keeps the client's key and data), or an
// error that refuses it.
func MapPublish(handler func(MapPublishRequest) (MapPublishResult, error)) {
	once("map-publish", exports.MapPublish != nil)
	exports.MapPublish = func(request rotor_centrifugo_types.MapPublishRequest) rotor_centrifugo_types.MapPublishReply {
		result, err := handler(request)
		return answer("map-publish", result, err, rotor_centrifugo_types.MakeMapPublishReplyAccept,
			rotor_centrifugo_types.MakeMapPublishReplyReject, rotor_centrifugo_types.MakeMapPublishReplyDisconnect)
	}
}

// MapRemove registers the handler of MapRemove: it returns how the removal
// goes out, or an error that refuses it.
func MapRemove(handler func(MapRemoveRequest) (MapRemoveResult, error)) {
	once("map-remove", exports.MapRemove != nil)
	exports.MapRemove = func(request rotor_centrifugo_types.MapRemoveRequest) rotor_centrifugo_types.MapRemoveReply {
		result, err := handler(request)
		return answer("map-remove", result, err, rotor_centrifugo_types.MakeMapRemoveReplyAccept,
			rotor_centrifugo_types.MakeMapRemoveReplyReject, rotor_centrifugo_types.MakeMapRemoveReplyDisconnect)
	}
}

// clientless is the error of a call no client is on (shared poll refresh,
// channel state): an Error as it is, a DisconnectError as error 100 with
// its reason, since there is no connection to close.
func clientless(kind string, err error) rotor_centrifugo_types.CentrifugoError {
	switch refused, closed := refusal(err); {
	case refused != nil:
		return toCentrifugoError(refused)
	case closed != nil:
		return rotor_centrifugo_types.CentrifugoError{Code: 100, Message: closed.Reason, Temporary: true}
	}
	fail(kind, err)
	panic("unreachable")
}

// SharedPollRefresh registers the handler of SharedPollRefresh: it returns
// the keys that changed, or an error that Centrifugo logs before it asks
// again at the next interval.
func SharedPollRefresh(handler func(SharedPollRefreshRequest) (SharedPollRefreshResult, error)) {
	once("shared-poll-refresh", exports.SharedPollRefresh != nil)
	exports.SharedPollRefresh = func(request rotor_centrifugo_types.SharedPollRefreshRequest) rotor_centrifugo_types.SharedPollRefreshReply {
		result, err := handler(request)
		if err == nil {
			return rotor_centrifugo_types.MakeSharedPollRefreshReplyAccept(result)
		}
		return rotor_centrifugo_types.MakeSharedPollRefreshReplyReject(clientless("shared-poll-refresh", err))
	}
}

// NotifyCacheEmpty registers the handler of NotifyCacheEmpty (Centrifugo
// PRO): it returns whether it populated the channel's cache. The response
// has no error, so an Error or DisconnectError answers false.
func NotifyCacheEmpty(handler func(NotifyCacheEmptyRequest) (bool, error)) {
	once("notify-cache-empty", exports.NotifyCacheEmpty != nil)
	exports.NotifyCacheEmpty = func(request rotor_centrifugo_types.NotifyCacheEmptyRequest) rotor_centrifugo_types.NotifyCacheEmptyReply {
		populated, err := handler(request)
		if err != nil {
			if refused, closed := refusal(err); refused == nil && closed == nil {
				fail("notify-cache-empty", err)
			}
			populated = false
		}
		return rotor_centrifugo_types.NotifyCacheEmptyReply{Populated: populated}
	}
}

// NotifyChannelState registers the handler of NotifyChannelState
// (Centrifugo PRO): it takes the events of one channel namespace, or fails
// them with an error.
func NotifyChannelState(handler func(NotifyChannelStateRequest) error) {
	once("notify-channel-state", exports.NotifyChannelState != nil)
	exports.NotifyChannelState = func(request rotor_centrifugo_types.NotifyChannelStateRequest) rotor_centrifugo_types.NotifyChannelStateReply {
		if err := handler(request); err != nil {
			return rotor_centrifugo_types.MakeNotifyChannelStateReplyReject(clientless("notify-channel-state", err))
		}
		return rotor_centrifugo_types.MakeNotifyChannelStateReplyAccept()
	}
}
