//go:build wasip1

package kv

import (
	"time"

	"rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_kv"
	"rotor.dev/rotor/wit"
)

func ttlOption(ttl time.Duration) wit.Option[uint64] {
	if ms, ok := millis(ttl); ok {
		return wit.Some(ms)
	}
	return wit.None[uint64]()
}

func fromHost(err rotor_centrifugo_kv.KvError) error {
	if err.Tag() == rotor_centrifugo_kv.KvError_Unavailable {
		return &Error{Kind: ErrUnavailable, Message: err.Unavailable()}
	}
	return &Error{Kind: ErrInvalid, Message: err.Invalid()}
}

func get(key string) ([]byte, bool, error) {
	result := rotor_centrifugo_kv.Get(key)
	if result.IsErr() {
		return nil, false, fromHost(result.Err())
	}
	value, ok := result.Ok().Get()
	return value, ok, nil
}

func set(key string, value []byte, ttl time.Duration) error {
	if result := rotor_centrifugo_kv.Set(key, value, ttlOption(ttl)); result.IsErr() {
		return fromHost(result.Err())
	}
	return nil
}

func del(key string) (bool, error) {
	result := rotor_centrifugo_kv.Delete(key)
	if result.IsErr() {
		return false, fromHost(result.Err())
	}
	return result.Ok(), nil
}

func increment(key string, delta int64, ttl time.Duration) (int64, error) {
	result := rotor_centrifugo_kv.Increment(key, delta, ttlOption(ttl))
	if result.IsErr() {
		return 0, fromHost(result.Err())
	}
	return result.Ok(), nil
}

func compareAndSet(key string, expected, value []byte, ttl time.Duration) (bool, error) {
	current := wit.None[[]byte]()
	if expected != nil {
		current = wit.Some(expected)
	}
	result := rotor_centrifugo_kv.CompareAndSet(key, current, value, ttlOption(ttl))
	if result.IsErr() {
		return false, fromHost(result.Err())
	}
	return result.Ok(), nil
}
