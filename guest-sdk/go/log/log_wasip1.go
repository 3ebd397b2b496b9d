//go:build wasip1

package log

import "rotor.dev/rotor/internal/bindings/imports/rotor_centrifugo_log"

func write(level Level, message string) { rotor_centrifugo_log.Write(uint8(level), message) }
