//go:build !wasip1

package kv

import (
	"bytes"
	"strconv"
	"sync"
	"time"
)

// entry is a value of the in-memory store and when it expires (zero: never).
type entry struct {
	value   []byte
	expires time.Time
}

var (
	mu    sync.Mutex
	store = map[string]entry{}
)

// ResetForTesting empties the in-memory store of a native build.
func ResetForTesting() {
	mu.Lock()
	defer mu.Unlock()
	store = map[string]entry{}
}

func live(key string) (entry, bool) {
	current, ok := store[key]
	if ok && !current.expires.IsZero() && !time.Now().Before(current.expires) {
		delete(store, key)
		return entry{}, false
	}
	return current, ok
}

func expiry(ttl time.Duration) time.Time {
	if _, ok := millis(ttl); ok {
		return time.Now().Add(ttl)
	}
	return time.Time{}
}

func get(key string) ([]byte, bool, error) {
	mu.Lock()
	defer mu.Unlock()
	current, ok := live(key)
	return bytes.Clone(current.value), ok, nil
}

func set(key string, value []byte, ttl time.Duration) error {
	mu.Lock()
	defer mu.Unlock()
	store[key] = entry{bytes.Clone(value), expiry(ttl)}
	return nil
}

func del(key string) (bool, error) {
	mu.Lock()
	defer mu.Unlock()
	_, ok := live(key)
	delete(store, key)
	return ok, nil
}

// Counters are stored as decimal text, as the host's stores keep them.
func increment(key string, delta int64, ttl time.Duration) (int64, error) {
	mu.Lock()
	defer mu.Unlock()
	current, ok := live(key)
	var count int64
	if ok {
		parsed, err := strconv.ParseInt(string(current.value), 10, 64)
		if err != nil {
			return 0, &Error{Kind: ErrInvalid, Message: "not a counter"}
		}
		count = parsed
	} else {
		current.expires = expiry(ttl)
	}
	count += delta
	current.value = strconv.AppendInt(nil, count, 10)
	store[key] = current
	return count, nil
}

func compareAndSet(key string, expected, value []byte, ttl time.Duration) (bool, error) {
	mu.Lock()
	defer mu.Unlock()
	current, ok := live(key)
	if (expected == nil && ok) || (expected != nil && (!ok || !bytes.Equal(current.value, expected))) {
		return false, nil
	}
	store[key] = entry{bytes.Clone(value), expiry(ttl)}
	return true, nil
}
