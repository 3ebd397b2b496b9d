// Package jwt verifies HS256 JSON Web Tokens, the usual credential of a
// connect handler.
package jwt

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"

	"rotor.dev/rotor"
)

// The kinds of Error, for errors.Is.
var (
	// ErrMissing: the request carries no token.
	ErrMissing = errors.New("no token")
	// ErrMalformed: the token is not three base64url parts of JSON objects.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: the header's `alg` is not HS256.
	ErrAlgorithm = errors.New("algorithm is not HS256")
	// ErrSignature: the signature does not match the secret.
	ErrSignature = errors.New("bad signature")
	// ErrClaim: a claim is missing or of the wrong type (Error.Claim says which).
	ErrClaim = errors.New("claim is missing or invalid")
	// ErrExpired: the token's `exp` is past.
	ErrExpired = errors.New("token expired")
)

// Error is why a token was refused.
type Error struct {
	Kind error
	// Claim names the claim of an ErrClaim.
	Claim string
}

func (e *Error) Error() string {
	if e.Claim != "" {
		return "claim `" + e.Claim + "` is missing or invalid"
	}
	return e.Kind.Error()
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Refusal is the Centrifugo error a connect handler answers with:
// `109 token expired` for an expired token (the client fetches a new one),
// `101 unauthorized` otherwise.
func (e *Error) Refusal() *rotor.Error {
	if e.Kind == ErrExpired {
		return rotor.TokenExpired()
	}
	return rotor.Unauthorized()
}

func refused(kind error) *Error { return &Error{Kind: kind} }

// ClaimError is the error of an invalid claim.
func ClaimError(claim string) *Error { return &Error{Kind: ErrClaim, Claim: claim} }

// Claims are a verified token's claims.
type Claims map[string]json.RawMessage

// Subject is the `sub` claim, a non-empty string.
func (c Claims) Subject() (string, error) {
	var sub string
	if err := json.Unmarshal(c["sub"], &sub); err != nil || sub == "" {
		return "", ClaimError("sub")
	}
	return sub, nil
}

// ExpiresAt is the `exp` claim in Unix seconds, or 0 without one.
func (c Claims) ExpiresAt() (int64, error) {
	raw, ok := c["exp"]
	if !ok {
		return 0, nil
	}
	var exp float64
	if err := json.Unmarshal(raw, &exp); err != nil || math.IsInf(exp, 0) {
		return 0, ClaimError("exp")
	}
	return int64(math.Floor(exp)), nil
}

// VerifyHS256 checks token's algorithm (HS256), its signature under secret
// (in constant time) and, if it has one, its expiry against now (Unix
// seconds), and returns its claims.
func VerifyHS256(token string, secret []byte, now int64) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, refused(ErrMalformed)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decode(parts[0], &header); err != nil {
		return nil, err
	}
	if header.Alg != "HS256" {
		return nil, refused(ErrAlgorithm)
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, refused(ErrMalformed)
	}
	if !hmac.Equal(signature, sign([]byte(parts[0]+"."+parts[1]), secret)) {
		return nil, refused(ErrSignature)
	}
	var claims Claims
	if err := decode(parts[1], &claims); err != nil {
		return nil, err
	}
	exp, err := claims.ExpiresAt()
	if err != nil {
		return nil, err
	}
	if _, ok := claims["exp"]; ok && exp <= now {
		return nil, refused(ErrExpired)
	}
	return claims, nil
}

// SignHS256 signs claims with secret, for tests and token issuers.
func SignHS256(claims any, secret []byte) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(signed), secret)), nil
}

// ConnectToken is the token of a connect: `{"token": "<jwt>"}` in the
// request's data, or else an `authorization: Bearer <jwt>` header.
func ConnectToken(request rotor.ConnectRequest) (string, bool) {
	var data struct {
		Token *string `json:"token"`
	}
	if json.Unmarshal(request.Data, &data) == nil && data.Token != nil {
		return *data.Token, true
	}
	value, ok := rotor.Header(request.Headers, "authorization")
	if !ok {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func sign(message, secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(message)
	return mac.Sum(nil)
}

// decode reads a base64url part holding a JSON object into into.
func decode(part string, into any) error {
	text, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(text), []byte("{")) || json.Unmarshal(text, into) != nil {
		return refused(ErrMalformed)
	}
	return nil
}
