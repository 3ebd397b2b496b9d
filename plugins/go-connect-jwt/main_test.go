package main

import (
	"encoding/json"
	"errors"
	"testing"

	"rotor.dev/rotor"
	"rotor.dev/rotor/config"
	"rotor.dev/rotor/jwt"
)

var secret = []byte("test-secret")

const now = 1_700_000_000

func sign(t *testing.T, claims any, key []byte) string {
	t.Helper()
	token, err := jwt.SignHS256(claims, key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func withToken(token string) rotor.ConnectRequest {
	data, _ := json.Marshal(map[string]string{"token": token})
	return rotor.ConnectRequest{Data: data}
}

func TestAcceptsATokenWithAllClaims(t *testing.T) {
	token := sign(t, map[string]any{"sub": "42", "exp": now + 60, "info": map[string]string{"name": "Ada"}, "channels": []string{"news", "user:42"}}, secret)
	result, err := authenticate(withToken(token), secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if result.User != "42" || result.ExpireAt != now+60 || string(result.Info) != `{"name":"Ada"}` || len(result.Channels) != 2 {
		t.Fatalf("%+v", result)
	}
}

func TestAcceptsABearerHeader(t *testing.T) {
	token := sign(t, map[string]any{"sub": "7"}, secret)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		request := rotor.ConnectRequest{Headers: []rotor.Pair{rotor.P("authorization", scheme+" "+token)}}
		result, err := authenticate(request, secret, now)
		if err != nil || result.User != "7" || result.ExpireAt != 0 {
			t.Fatalf("%s: %+v %v", scheme, result, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	for name, test := range map[string]struct {
		request rotor.ConnectRequest
		kind    error
		code    uint32
	}{
		"no token":       {rotor.ConnectRequest{}, jwt.ErrMissing, 101},
		"basic auth":     {rotor.ConnectRequest{Headers: []rotor.Pair{rotor.P("authorization", "Basic dXNlcjpwYXNz")}}, jwt.ErrMissing, 101},
		"other secret":   {withToken(sign(t, map[string]any{"sub": "42"}, []byte("other"))), jwt.ErrSignature, 101},
		"malformed":      {withToken("a.b"), jwt.ErrMalformed, 101},
		"expired":        {withToken(sign(t, map[string]any{"sub": "42", "exp": now}, secret)), jwt.ErrExpired, 109},
		"no sub":         {withToken(sign(t, map[string]any{"name": "Ada"}, secret)), jwt.ErrClaim, 101},
		"numeric sub":    {withToken(sign(t, map[string]any{"sub": 42}, secret)), jwt.ErrClaim, 101},
		"channels":       {withToken(sign(t, map[string]any{"sub": "42", "channels": "news"}, secret)), jwt.ErrClaim, 101},
		"exp is no time": {withToken(sign(t, map[string]any{"sub": "42", "exp": "tomorrow"}, secret)), jwt.ErrClaim, 101},
	} {
		_, err := authenticate(test.request, secret, now)
		var refused *jwt.Error
		if !errors.Is(err, test.kind) || !errors.As(err, &refused) || refused.Refusal().Code != test.code {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWithoutASecretEveryConnectFails(t *testing.T) {
	config.SetForTesting(nil)
	_, err := connect(withToken(sign(t, map[string]any{"sub": "42"}, secret)))
	var refused *rotor.Error
	if !errors.As(err, &refused) || refused.Code != 100 {
		t.Fatalf("%v", err)
	}
	config.SetForTesting(map[string]string{"secret": string(secret)})
	if result, err := connect(withToken(sign(t, map[string]any{"sub": "42"}, secret))); err != nil || result.User != "42" {
		t.Fatalf("%+v %v", result, err)
	}
}
