// Package api calls Centrifugo's server API from a plugin whose tenant is
// granted it: publish into channels, manage subscriptions and connections,
// read presence and history. The host holds the address and API key, and
// may restrict the channel namespaces a plugin can touch.
//
// Outside a component (in `go test`) every call fails with ErrUnavailable.
package api

import (
	"errors"
	"strconv"

	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_centrifugo_api"
)

// The records of the API, as the WIT contract defines them.
type (
	// PublishOptions are the options of a publication.
	PublishOptions = rotor_centrifugo_centrifugo_api.PublishOptions
	// StreamPosition is where a publication landed in a channel's history.
	StreamPosition = rotor_centrifugo_centrifugo_api.StreamPosition
	// ClientInfo is a connection present in a channel.
	ClientInfo = rotor_centrifugo_centrifugo_api.ClientInfo
	// PresenceCounts are the counts of a channel's presence.
	PresenceCounts = rotor_centrifugo_centrifugo_api.PresenceCounts
	// Publication is a publication from a channel's history.
	Publication = rotor_centrifugo_centrifugo_api.Publication
	// HistoryPage is a page of a channel's history.
	HistoryPage = rotor_centrifugo_centrifugo_api.HistoryPage
	// HistoryQuery says what to read from a channel's history.
	HistoryQuery = rotor_centrifugo_centrifugo_api.HistoryQuery
	// Node is a Centrifugo node.
	Node = rotor_centrifugo_centrifugo_api.Node
	// Command is one command of a batch: see PublishCommand and the others.
	Command = rotor_centrifugo_centrifugo_api.Command
	// Membership is a user's (or one client's) membership of a channel.
	Membership = rotor_centrifugo_centrifugo_api.Membership
	// DisconnectCommand is a disconnect of a batch.
	DisconnectCommand = rotor_centrifugo_centrifugo_api.DisconnectCommand
)

// The kinds of Error, for errors.Is.
var (
	// ErrCentrifugo: Centrifugo answered with an error (Error.Code says which).
	ErrCentrifugo = errors.New("api: centrifugo error")
	// ErrDenied: the call is outside what this plugin may do.
	ErrDenied = errors.New("api: denied")
	// ErrUnavailable: the API is not configured or could not be reached.
	ErrUnavailable = errors.New("api: unavailable")
	// ErrTimeout: no answer within the time left for this call.
	ErrTimeout = errors.New("api: timeout")
)

// Error is a failed API call: its kind, Centrifugo's code (for
// ErrCentrifugo) and the message.
type Error struct {
	Kind    error
	Code    uint32
	Message string
}

func (e *Error) Error() string {
	text := e.Kind.Error()
	if e.Code != 0 {
		text += " " + strconv.FormatUint(uint64(e.Code), 10)
	}
	if e.Message != "" {
		text += ": " + e.Message
	}
	return text
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// PublishCommand is a publication in a batch.
func PublishCommand(channel string, data []byte, options PublishOptions) Command {
	return rotor_centrifugo_centrifugo_api.MakeCommandPublish(rotor_centrifugo_centrifugo_api.PublishCommand{Channel: channel, Data: data, Options: options})
}

// SubscribeCommand subscribes a user (or one client) in a batch.
func SubscribeCommand(membership Membership) Command {
	return rotor_centrifugo_centrifugo_api.MakeCommandSubscribe(membership)
}

// UnsubscribeCommand unsubscribes a user (or one client) in a batch.
func UnsubscribeCommand(membership Membership) Command {
	return rotor_centrifugo_centrifugo_api.MakeCommandUnsubscribe(membership)
}

// DisconnectCommandOf disconnects a user (or one client) in a batch.
func DisconnectCommandOf(command DisconnectCommand) Command {
	return rotor_centrifugo_centrifugo_api.MakeCommandDisconnect(command)
}

// HistoryRemoveCommand removes a channel's history in a batch.
func HistoryRemoveCommand(channel string) Command {
	return rotor_centrifugo_centrifugo_api.MakeCommandHistoryRemove(channel)
}

// ChannelCount is an active channel and its number of clients.
type ChannelCount struct {
	Channel    string
	NumClients uint32
}
