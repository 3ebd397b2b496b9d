//go:build wasip1

package api

import (
	host "rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_centrifugo_api"
	"rotor.dev/rotor/wit"
)

func fromHost(err host.ApiError) error {
	switch err.Tag() {
	case host.ApiError_Centrifugo:
		failure := err.Centrifugo()
		return &Error{Kind: ErrCentrifugo, Code: failure.Code, Message: failure.Message}
	case host.ApiError_Denied:
		return &Error{Kind: ErrDenied, Message: err.Denied()}
	case host.ApiError_Unavailable:
		return &Error{Kind: ErrUnavailable, Message: err.Unavailable()}
	default:
		return &Error{Kind: ErrTimeout}
	}
}

// value unpacks a result of the host.
func value[T any](result wit.Result[T, host.ApiError]) (T, error) {
	if result.IsErr() {
		var zero T
		return zero, fromHost(result.Err())
	}
	return result.Ok(), nil
}

// each unpacks a list of per-item results of the host.
func each[T any](results []wit.Result[T, host.ApiError]) ([]T, []error) {
	values := make([]T, len(results))
	errs := make([]error, len(results))
	for i, result := range results {
		values[i], errs[i] = value(result)
	}
	return values, errs
}

func unit(result wit.Result[wit.Unit, host.ApiError]) error {
	_, err := value(result)
	return err
}

// Publish publishes data into channel.
func Publish(channel string, data []byte, options PublishOptions) (StreamPosition, error) {
	return value(host.Publish(channel, data, options))
}

// Broadcast publishes data into each of channels: one position and one
// error (nil on success) per channel, or an error for the whole call.
func Broadcast(channels []string, data []byte, options PublishOptions) ([]StreamPosition, []error, error) {
	results, err := value(host.Broadcast(channels, data, options))
	if err != nil {
		return nil, nil, err
	}
	positions, errs := each(results)
	return positions, errs, nil
}

// Subscribe subscribes all connections of user (or only client, if not
// empty) to channel.
func Subscribe(user, channel, client string) error {
	return unit(host.Subscribe(user, channel, client))
}

// Unsubscribe unsubscribes user (or only client, if not empty) from channel.
func Unsubscribe(user, channel, client string) error {
	return unit(host.Unsubscribe(user, channel, client))
}

// Disconnect disconnects user (or only client, if not empty) with code
// (4000–4999) and reason.
func Disconnect(user, client string, code uint32, reason string) error {
	return unit(host.Disconnect(user, client, code, reason))
}

// Refresh sets a new expiry (Unix seconds) for the connections of user, or
// expires them.
func Refresh(user, client string, expireAt int64, expired bool) error {
	return unit(host.Refresh(user, client, expireAt, expired))
}

// Presence lists the connections in channel.
func Presence(channel string) ([]ClientInfo, error) { return value(host.Presence(channel)) }

// PresenceStats counts the connections and users in channel.
func PresenceStats(channel string) (PresenceCounts, error) {
	return value(host.PresenceStats(channel))
}

// History reads channel's history.
func History(channel string, query HistoryQuery) (HistoryPage, error) {
	return value(host.History(channel, query))
}

// HistoryRemove removes channel's history.
func HistoryRemove(channel string) error { return unit(host.HistoryRemove(channel)) }

// Channels lists the active channels matching pattern (empty: all).
func Channels(pattern string) ([]ChannelCount, error) {
	found, err := value(host.Channels(pattern))
	if err != nil {
		return nil, err
	}
	channels := make([]ChannelCount, len(found))
	for i, pair := range found {
		channels[i] = ChannelCount{Channel: pair.F0, NumClients: pair.F1}
	}
	return channels, nil
}

// Info lists the nodes of the Centrifugo cluster.
func Info() ([]Node, error) { return value(host.Info()) }

// Batch sends commands in one API call, in order or, with parallel, at
// once: one error (nil on success) per command, or an error for the call.
func Batch(commands []Command, parallel bool) ([]error, error) {
	results, err := value(host.Batch(commands, parallel))
	if err != nil {
		return nil, err
	}
	_, errs := each(results)
	return errs, nil
}
