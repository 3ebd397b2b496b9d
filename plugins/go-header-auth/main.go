// An interceptor that admits calls by API key and logs how each one ended,
// like the JavaScript js-header-auth.
//
// Every call must carry an `x-api-key` header whose value is one of the
// configured keys; the key names the caller. Then:
//
//   - a known key: the request goes on with header `x-caller: <name>`
//     (every `x-caller` that came with the call is dropped first, so the
//     handler can trust it);
//   - no key or an unknown one: `101 unauthorized`, and the handler does not
//     run (on refresh and sub-refresh the host makes that `expire`).
//
// After writes one log line per call with its kind, caller, outcome and the
// time the rest of the chain took, and keeps the reply.
//
// Config keys: `keys` (required), comma-separated `<key>=<name>` pairs.
// Without it every call is refused with `100 internal server error`.
package main

import (
	"strings"
	"time"

	"rotor.dev/rotor"
	"rotor.dev/rotor/config"
	"rotor.dev/rotor/log"
)

// callerHeader carries the caller's name to the handler.
const callerHeader = "x-caller"

// started is what Before saw, for After: the host calls both on one instance.
var started struct {
	callID uint64
	at     time.Time
	caller string
}

func init() {
	rotor.Intercept(rotor.Interceptor{Before: before, After: after})
}

// parseKeys reads `<key>=<name>, …` into a map from key to name.
func parseKeys(value string) map[string]string {
	keys := map[string]string{}
	for _, pair := range strings.Split(value, ",") {
		key, name, ok := strings.Cut(pair, "=")
		if key = strings.TrimSpace(key); ok && key != "" {
			keys[key] = strings.TrimSpace(name)
		}
	}
	return keys
}

// withCaller is headers with caller as the one value of the caller header.
func withCaller(headers []rotor.Pair, caller string) []rotor.Pair {
	kept := make([]rotor.Pair, 0, len(headers)+1)
	for _, pair := range headers {
		if !strings.EqualFold(pair.F0, callerHeader) {
			kept = append(kept, pair)
		}
	}
	return append(kept, rotor.P(callerHeader, caller))
}

func before(context rotor.CallContext, request rotor.Request) (rotor.Decision, error) {
	value, _ := config.Get("keys")
	keys := parseKeys(value)
	if len(keys) == 0 {
		log.Error("go-header-auth: config key `keys` is not set")
		return rotor.Pass(), rotor.InternalError()
	}
	headers := rotor.Headers(request)
	key, present := rotor.Header(headers, "x-api-key")
	caller, known := keys[key]
	if !present || !known {
		reason := "unknown key"
		if !present {
			reason = "no key"
		}
		log.Debugf("go-header-auth: %s refused: %s", rotor.Kind(request), reason)
		return rotor.Pass(), rotor.Unauthorized()
	}
	started.callID, started.at, started.caller = context.CallId, time.Now(), caller
	return rotor.Rewrite(rotor.WithHeaders(request, withCaller(headers, caller))), nil
}

func after(context rotor.CallContext, reply rotor.Reply) (rotor.Reply, bool) {
	if started.caller == "" || started.callID != context.CallId {
		return reply, false
	}
	took := time.Since(started.at).Microseconds()
	log.Infof("%s caller=%s outcome=%s took=%dµs", rotor.ReplyKind(reply), started.caller, rotor.Outcome(reply), took)
	started.caller = ""
	return reply, false
}

func main() {}
