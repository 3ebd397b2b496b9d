//go:build !wasip1

package api

// unavailable is the error of every call outside a component.
func unavailable() error {
	return &Error{Kind: ErrUnavailable, Message: "no Centrifugo API outside a component"}
}

// Publish publishes data into channel.
func Publish(string, []byte, PublishOptions) (StreamPosition, error) {
	return StreamPosition{}, unavailable()
}

// Broadcast publishes data into each of channels.
func Broadcast([]string, []byte, PublishOptions) ([]StreamPosition, []error, error) {
	return nil, nil, unavailable()
}

// Subscribe subscribes user (or only client) to channel.
func Subscribe(string, string, string) error { return unavailable() }

// Unsubscribe unsubscribes user (or only client) from channel.
func Unsubscribe(string, string, string) error { return unavailable() }

// Disconnect disconnects user (or only client).
func Disconnect(string, string, uint32, string) error { return unavailable() }

// Refresh sets a new expiry for the connections of user, or expires them.
func Refresh(string, string, int64, bool) error { return unavailable() }

// Presence lists the connections in channel.
func Presence(string) ([]ClientInfo, error) { return nil, unavailable() }

// PresenceStats counts the connections and users in channel.
func PresenceStats(string) (PresenceCounts, error) { return PresenceCounts{}, unavailable() }

// History reads channel's history.
func History(string, HistoryQuery) (HistoryPage, error) { return HistoryPage{}, unavailable() }

// HistoryRemove removes channel's history.
func HistoryRemove(string) error { return unavailable() }

// Channels lists the active channels matching pattern.
func Channels(string) ([]ChannelCount, error) { return nil, unavailable() }

// Info lists the nodes of the Centrifugo cluster.
func Info() ([]Node, error) { return nil, unavailable() }

// Batch sends commands in one API call.
func Batch([]Command, bool) ([]error, error) { return nil, unavailable() }
