// Authenticates connections with an HS256 JSON Web Token, like the Rust
// connect-jwt plugin.
//
// The token comes from the connect command's data, `{"token": "<jwt>"}`, or
// else from an `authorization: Bearer <jwt>` header. It must be signed with
// HS256 under the configured secret; then its claims make the connection:
//
//   - `sub` (required, non-empty string): the user id;
//   - `exp` (optional, Unix seconds): the connection's expiry; a token past
//     it is refused with `109 token expired`;
//   - `info` (optional, any JSON): the connection info;
//   - `channels` (optional, array of strings): server-side subscriptions.
//
// A missing, malformed or badly signed token is refused with
// `101 unauthorized`.
//
// Config keys: `secret` (required), the HMAC key. Without it every connect
// fails with `100 internal server error` and an error log line.
package main

import (
	"encoding/json"
	"errors"

	"rotor.dev/rotor"
	"rotor.dev/rotor/config"
	"rotor.dev/rotor/jwt"
	"rotor.dev/rotor/log"
)

func init() {
	rotor.Connect(connect)
}

// connect answers one connect.
func connect(request rotor.ConnectRequest) (rotor.ConnectResult, error) {
	secret, _ := config.Get("secret")
	if secret == "" {
		log.Error("go-connect-jwt: config key `secret` is not set")
		return rotor.ConnectResult{}, rotor.InternalError()
	}
	result, err := authenticate(request, []byte(secret), rotor.UnixNow())
	var refused *jwt.Error
	if errors.As(err, &refused) {
		log.Debugf("go-connect-jwt: refused: %v", refused)
		return result, refused.Refusal()
	}
	return result, err
}

// authenticate checks the request's token against secret at time now (Unix
// seconds) and turns its claims into the accepted connection.
func authenticate(request rotor.ConnectRequest, secret []byte, now int64) (rotor.ConnectResult, error) {
	token, ok := jwt.ConnectToken(request)
	if !ok {
		return rotor.ConnectResult{}, &jwt.Error{Kind: jwt.ErrMissing}
	}
	claims, err := jwt.VerifyHS256(token, secret, now)
	if err != nil {
		return rotor.ConnectResult{}, err
	}
	user, err := claims.Subject()
	if err != nil {
		return rotor.ConnectResult{}, err
	}
	expireAt, err := claims.ExpiresAt()
	if err != nil {
		return rotor.ConnectResult{}, err
	}
	var channels []string
	if raw, ok := claims["channels"]; ok {
		if json.Unmarshal(raw, &channels) != nil || channels == nil {
			return rotor.ConnectResult{}, jwt.ClaimError("channels")
		}
	}
	return rotor.ConnectResult{
		User:     user,
		ExpireAt: expireAt,
		Info:     claims["info"],
		Channels: channels,
	}, nil
}

func main() {}
