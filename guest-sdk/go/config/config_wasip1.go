//go:build wasip1

package config

import "rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_config"

func get(key string) (string, bool) { return rotor_centrifugo_config.Get(key).Get() }
