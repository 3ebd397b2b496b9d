// Package kv is small shared state that outlives one call: counters for
// rate limits, bookings, caches. Keys are private to the tenant: the host
// prefixes them, so one tenant never sees another's keys.
//
// A ttl of 0 means the key does not expire. Outside a component (in
// `go test`) the store is an in-memory map.
package kv

import (
	"errors"
	"time"
)

// The kinds of Error, for errors.Is.
var (
	// ErrUnavailable: the store could not be reached or answered with an error.
	ErrUnavailable = errors.New("kv: unavailable")
	// ErrInvalid: the key or value is over the host's limits, or the value
	// is not a counter.
	ErrInvalid = errors.New("kv: invalid")
)

// Error is a failed store operation: its kind (ErrUnavailable or
// ErrInvalid) and the host's message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Get is the value of key and true, or false when it is not set or expired.
func Get(key string) ([]byte, bool, error) { return get(key) }

// Set sets key to value, expiring after ttl if it is not 0.
func Set(key string, value []byte, ttl time.Duration) error { return set(key, value, ttl) }

// Delete removes key and tells whether it was set.
func Delete(key string) (bool, error) { return del(key) }

// Increment adds delta to the counter at key (a missing key counts as 0)
// and returns the new value. ttl applies when the call creates the key, so
// a counter with a ttl is a fixed window.
func Increment(key string, delta int64, ttl time.Duration) (int64, error) {
	return increment(key, delta, ttl)
}

// CompareAndSet sets key to value only if its current value is expected
// (nil: only if it is not set), and tells whether it did.
func CompareAndSet(key string, expected, value []byte, ttl time.Duration) (bool, error) {
	return compareAndSet(key, expected, value, ttl)
}

// millis is ttl in whole milliseconds, at least 1 for a positive ttl, and
// whether there is one.
func millis(ttl time.Duration) (uint64, bool) {
	if ttl <= 0 {
		return 0, false
	}
	return max(uint64(ttl.Milliseconds()), 1), true
}
