package rotor

import (
	"strconv"

	"rotor.dev/rotor/internal/bindings/exports"
	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_interceptor"
	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_types"
	"rotor.dev/rotor/wit"
)

type (
	// CallContext says where an intercepted call comes from: its tenant and
	// an id that is the same in Before and After.
	CallContext = rotor_centrifugo_interceptor.CallContext
	// Request is any proxy request; Tag() says which (RequestConnect, …).
	Request = rotor_centrifugo_types.Request
	// Reply is any proxy reply, of the same kind as its request.
	Reply = rotor_centrifugo_types.Reply
	// Decision is what an interceptor does with a call before the next step.
	Decision = rotor_centrifugo_interceptor.Decision
)

// The kinds of Request and Reply, as Tag() returns them.
const (
	RequestConnect    = rotor_centrifugo_types.Request_Connect
	RequestRefresh    = rotor_centrifugo_types.Request_Refresh
	RequestSubscribe  = rotor_centrifugo_types.Request_Subscribe
	RequestPublish    = rotor_centrifugo_types.Request_Publish
	RequestRPC        = rotor_centrifugo_types.Request_Rpc
	RequestSubRefresh = rotor_centrifugo_types.Request_SubRefresh
	RequestMapPublish = rotor_centrifugo_types.Request_MapPublish
	RequestMapRemove  = rotor_centrifugo_types.Request_MapRemove
	// The kinds Centrifugo calls with no client behind them.
	RequestSharedPollRefresh  = rotor_centrifugo_types.Request_SharedPollRefresh
	RequestNotifyCacheEmpty   = rotor_centrifugo_types.Request_NotifyCacheEmpty
	RequestNotifyChannelState = rotor_centrifugo_types.Request_NotifyChannelState
)

// kinds names the kinds of requests and replies, by tag.
var kinds = [...]string{
	"connect", "refresh", "subscribe", "publish", "rpc", "sub-refresh", "map-publish", "map-remove",
	"shared-poll-refresh", "notify-cache-empty", "notify-channel-state",
}

// Interceptor is a step in front of a handler.
type Interceptor struct {
	// Before sees each call before the next step. It returns Pass(),
	// Rewrite(request) or Answer(reply), or refuses the call with an error
	// made by Reject, Disconnect or a built-in error (on refresh and
	// sub-refresh the host makes a refusal `expire`).
	Before func(CallContext, Request) (Decision, error)
	// After, if set, sees the reply of the next step after Pass or Rewrite;
	// it returns a replacement of the same kind and true, or false to keep
	// the reply.
	After func(CallContext, Reply) (Reply, bool)
}

// Intercept registers the plugin's interceptor. The host makes one instance
// per call and calls Before and After on it, so package variables can carry
// state from Before to After within a call.
func Intercept(interceptor Interceptor) {
	once("interceptor", exports.Before != nil)
	if interceptor.Before == nil {
		panic("rotor: an interceptor needs Before")
	}
	exports.Before = func(context CallContext, request Request) Decision {
		decision, err := interceptor.Before(context, request)
		if err == nil {
			return decision
		}
		switch refused, closed := refusal(err); {
		case refused != nil:
			return rotor_centrifugo_interceptor.MakeDecisionReject(toCentrifugoError(refused))
		case closed != nil:
			return rotor_centrifugo_interceptor.MakeDecisionDisconnect(toDisconnect(closed))
		}
		fail("interceptor", err)
		panic("unreachable")
	}
	exports.After = func(context CallContext, reply Reply) wit.Option[Reply] {
		if interceptor.After == nil {
			return wit.None[Reply]()
		}
		if replacement, replace := interceptor.After(context, reply); replace {
			return wit.Some(replacement)
		}
		return wit.None[Reply]()
	}
}

// Pass hands the call on unchanged.
func Pass() Decision { return rotor_centrifugo_interceptor.MakeDecisionPass() }

// Rewrite hands request on instead of the call's; it must be of the same kind.
func Rewrite(request Request) Decision {
	return rotor_centrifugo_interceptor.MakeDecisionRewrite(request)
}

// Answer answers the call with reply now, skipping the later steps; the
// reply must be of the call's kind.
func Answer(reply Reply) Decision { return rotor_centrifugo_interceptor.MakeDecisionAnswer(reply) }

// Kind names the kind of request: connect, refresh, subscribe, publish, rpc
// or sub-refresh.
func Kind(request Request) string { return kinds[request.Tag()] }

// ReplyKind names the kind of reply, like Kind.
func ReplyKind(reply Reply) string { return kinds[reply.Tag()] }

// Headers are the headers of request, whatever its kind.
func Headers(request Request) []Pair {
	switch request.Tag() {
	case RequestConnect:
		return request.Connect().Headers
	case RequestRefresh:
		return request.Refresh().Headers
	case RequestSubscribe:
		return request.Subscribe().Headers
	case RequestPublish:
		return request.Publish().Headers
	case RequestRPC:
		return request.Rpc().Headers
	case RequestMapPublish:
		return request.MapPublish().Headers
	case RequestMapRemove:
		return request.MapRemove().Headers
	case RequestSharedPollRefresh:
		return request.SharedPollRefresh().Headers
	case RequestNotifyCacheEmpty:
		return request.NotifyCacheEmpty().Headers
	case RequestNotifyChannelState:
		return request.NotifyChannelState().Headers
	default:
		return request.SubRefresh().Headers
	}
}

// WithHeaders is request with its headers replaced by headers.
func WithHeaders(request Request, headers []Pair) Request {
	switch request.Tag() {
	case RequestConnect:
		inner := request.Connect()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestConnect(inner)
	case RequestRefresh:
		inner := request.Refresh()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestRefresh(inner)
	case RequestSubscribe:
		inner := request.Subscribe()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestSubscribe(inner)
	case RequestPublish:
		inner := request.Publish()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestPublish(inner)
	case RequestRPC:
		inner := request.Rpc()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestRpc(inner)
	case RequestMapPublish:
		inner := request.MapPublish()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestMapPublish(inner)
	case RequestMapRemove:
		inner := request.MapRemove()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestMapRemove(inner)
	case RequestSharedPollRefresh:
		inner := request.SharedPollRefresh()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestSharedPollRefresh(inner)
	case RequestNotifyCacheEmpty:
		inner := request.NotifyCacheEmpty()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestNotifyCacheEmpty(inner)
	case RequestNotifyChannelState:
		inner := request.NotifyChannelState()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestNotifyChannelState(inner)
	default:
		inner := request.SubRefresh()
		inner.Headers = headers
		return rotor_centrifugo_types.MakeRequestSubRefresh(inner)
	}
}

// The request constructors, for tests and Rewrite.

// ConnectCall is request as a Request.
func ConnectCall(request ConnectRequest) Request {
	return rotor_centrifugo_types.MakeRequestConnect(request)
}

// RPCCall is request as a Request.
func RPCCall(request RPCRequest) Request { return rotor_centrifugo_types.MakeRequestRpc(request) }

// SubscribeCall is request as a Request.
func SubscribeCall(request SubscribeRequest) Request {
	return rotor_centrifugo_types.MakeRequestSubscribe(request)
}

// RPCAnswer is an RPC reply, accepted with result or refused with err (an
// Error or a DisconnectError), as a Reply.
func RPCAnswer(result RPCResult, err error) Reply {
	return rotor_centrifugo_types.MakeReplyRpc(answer("rpc", result, err, rotor_centrifugo_types.MakeRpcReplyAccept,
		rotor_centrifugo_types.MakeRpcReplyReject, rotor_centrifugo_types.MakeRpcReplyDisconnect))
}

// Outcome says how reply ends its call: `accept`, `extend`, `expire`,
// `reject code=<code>` or `disconnect code=<code>` (`reject` alone for a
// cache-empty notice that populated nothing).
func Outcome(reply Reply) string {
	// Every reply variant has accept or extend as tag 0; the ones with
	// errors have reject 1 (and disconnect 2), the refreshes expire 1.
	var tag uint8
	var refused *rotor_centrifugo_types.CentrifugoError
	var closed *rotor_centrifugo_types.Disconnect
	switch reply.Tag() {
	case RequestConnect:
		inner := reply.Connect()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.ConnectReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.ConnectReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestSubscribe:
		inner := reply.Subscribe()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.SubscribeReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.SubscribeReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestPublish:
		inner := reply.Publish()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.PublishReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.PublishReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestRPC:
		inner := reply.Rpc()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.RpcReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.RpcReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestMapPublish:
		inner := reply.MapPublish()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.MapPublishReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.MapPublishReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestMapRemove:
		inner := reply.MapRemove()
		tag = inner.Tag()
		if tag == rotor_centrifugo_types.MapRemoveReply_Reject {
			refused = ptr(inner.Reject())
		} else if tag == rotor_centrifugo_types.MapRemoveReply_Disconnect {
			closed = ptr(inner.Disconnect())
		}
	case RequestSharedPollRefresh:
		inner := reply.SharedPollRefresh()
		if inner.Tag() == rotor_centrifugo_types.SharedPollRefreshReply_Reject {
			refused = ptr(inner.Reject())
		}
	case RequestNotifyChannelState:
		inner := reply.NotifyChannelState()
		if inner.Tag() == rotor_centrifugo_types.NotifyChannelStateReply_Reject {
			refused = ptr(inner.Reject())
		}
	case RequestNotifyCacheEmpty:
		// A record, not a variant: populated or not.
		if reply.NotifyCacheEmpty().Populated {
			return "accept"
		}
		return "reject"
	case RequestRefresh:
		if reply.Refresh().Tag() == rotor_centrifugo_types.RefreshReply_Extend {
			return "extend"
		}
		return "expire"
	default:
		if reply.SubRefresh().Tag() == rotor_centrifugo_types.SubRefreshReply_Extend {
			return "extend"
		}
		return "expire"
	}
	switch {
	case refused != nil:
		return "reject code=" + strconv.FormatUint(uint64(refused.Code), 10)
	case closed != nil:
		return "disconnect code=" + strconv.FormatUint(uint64(closed.Code), 10)
	}
	return "accept"
}

func ptr[T any](value T) *T { return &value }
