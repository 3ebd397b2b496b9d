//go:build !wasip1

package config

var settings map[string]string

// SetForTesting replaces the settings a native build reads (in tests).
func SetForTesting(values map[string]string) { settings = values }

func get(key string) (string, bool) {
	value, ok := settings[key]
	return value, ok
}
