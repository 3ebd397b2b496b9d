package main

import (
	"errors"
	"testing"

	"rotor.dev/rotor"
	"rotor.dev/rotor/config"
)

func TestParseKeys(t *testing.T) {
	keys := parseKeys(" k1=alice, k2 = bob ,broken,=nobody")
	if len(keys) != 2 || keys["k1"] != "alice" || keys["k2"] != "bob" {
		t.Fatalf("%v", keys)
	}
}

func TestKnownKeysNameTheCaller(t *testing.T) {
	config.SetForTesting(map[string]string{"keys": "k1=alice"})
	request := rotor.RPCCall(rotor.RPCRequest{Method: "ping", Headers: []rotor.Pair{
		rotor.P("x-api-key", "k1"), rotor.P("X-Caller", "admin"),
	}})
	decision, err := before(rotor.CallContext{CallId: 7}, request)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := decision.Rewrite().Rpc()
	if caller, _ := rotor.Header(rewritten.Headers, "x-caller"); caller != "alice" || len(rewritten.Headers) != 2 {
		t.Fatalf("%v", rewritten.Headers)
	}
	if _, replace := after(rotor.CallContext{CallId: 7}, rotor.RPCAnswer(rotor.RPCResult{}, nil)); replace {
		t.Fatal("after replaced the reply")
	}
}

func TestMissingAndUnknownKeysAreUnauthorized(t *testing.T) {
	config.SetForTesting(map[string]string{"keys": "k1=alice"})
	for _, headers := range [][]rotor.Pair{nil, {rotor.P("x-api-key", "k3")}} {
		_, err := before(rotor.CallContext{}, rotor.RPCCall(rotor.RPCRequest{Headers: headers}))
		var refused *rotor.Error
		if !errors.As(err, &refused) || refused.Code != 101 {
			t.Fatalf("%v: %v", headers, err)
		}
	}
	config.SetForTesting(nil)
	_, err := before(rotor.CallContext{}, rotor.RPCCall(rotor.RPCRequest{}))
	var refused *rotor.Error
	if !errors.As(err, &refused) || refused.Code != 100 {
		t.Fatalf("%v", err)
	}
}

func TestOutcome(t *testing.T) {
	for want, reply := range map[string]rotor.Reply{
		"accept":               rotor.RPCAnswer(rotor.RPCResult{}, nil),
		"reject code=104":      rotor.RPCAnswer(rotor.RPCResult{}, rotor.MethodNotFound()),
		"disconnect code=4001": rotor.RPCAnswer(rotor.RPCResult{}, rotor.Disconnect(4001, "bye")),
	} {
		if got := rotor.Outcome(reply); got != want {
			t.Errorf("%s: %s", want, got)
		}
	}
}
