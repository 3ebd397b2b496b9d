// Package config reads the plugin's settings from the host's configuration
// file (`[settings."<plugin>.wasm"]` or an interceptor's `settings`).
//
// Outside a component (in `go test`) the settings are those given to
// SetForTesting.
package config

import "strings"

// Get is the value of key and true, or "" and false when it is not set.
func Get(key string) (string, bool) { return get(key) }

// String is the value of key, or fallback when it is not set.
func String(key, fallback string) string {
	if value, ok := get(key); ok {
		return value
	}
	return fallback
}

// List is the comma-separated value of key (or fallback when it is not
// set) as a list, each item trimmed and empty items dropped.
func List(key, fallback string) []string {
	var items []string
	for _, item := range strings.Split(String(key, fallback), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
