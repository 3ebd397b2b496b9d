package rotor

import (
	"errors"
	"strconv"
)

// Error refuses a call with a Centrifugo error for the client's command.
// Applications use codes 400–1999; Centrifugo's built-in codes (such as 103)
// are accepted too. A temporary error makes the client retry.
type Error struct {
	Code      uint32
	Message   string
	Temporary bool
}

func (e *Error) Error() string {
	return "centrifugo error " + strconv.FormatUint(uint64(e.Code), 10) + ": " + e.Message
}

// Reject is an error that refuses the call with code and message.
func Reject(code uint32, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Retry marks the error temporary, so the client retries, and returns it.
func (e *Error) Retry() *Error {
	e.Temporary = true
	return e
}

// DisconnectError closes the client's connection instead of answering.
// Codes 4000–4499 let the client reconnect, 4500–4999 are terminal; keep the
// reason short (32 ASCII bytes is Centrifugo's advice).
type DisconnectError struct {
	Code   uint32
	Reason string
}

func (e *DisconnectError) Error() string {
	return "disconnect " + strconv.FormatUint(uint64(e.Code), 10) + ": " + e.Reason
}

// Disconnect is an error that closes the connection with code and reason.
func Disconnect(code uint32, reason string) *DisconnectError {
	return &DisconnectError{Code: code, Reason: reason}
}

// Centrifugo's built-in errors.

// InternalError is `100 internal server error`, temporary.
func InternalError() *Error {
	return &Error{Code: 100, Message: "internal server error", Temporary: true}
}

// Unauthorized is `101 unauthorized`.
func Unauthorized() *Error { return Reject(101, "unauthorized") }

// PermissionDenied is `103 permission denied`.
func PermissionDenied() *Error { return Reject(103, "permission denied") }

// MethodNotFound is `104 method not found`.
func MethodNotFound() *Error { return Reject(104, "method not found") }

// LimitExceeded is `106 limit exceeded`.
func LimitExceeded() *Error { return Reject(106, "limit exceeded") }

// BadRequest is `107 bad request`; message, if not empty, replaces the
// standard text.
func BadRequest(message string) *Error {
	if message == "" {
		message = "bad request"
	}
	return Reject(107, message)
}

// TokenExpired is `109 token expired`.
func TokenExpired() *Error { return Reject(109, "token expired") }

// TooManyRequests is `111 too many requests`, temporary.
func TooManyRequests() *Error {
	return &Error{Code: 111, Message: "too many requests", Temporary: true}
}

// refusal is how err ends a call: as an Error, a DisconnectError, or
// neither (then the call fails).
func refusal(err error) (*Error, *DisconnectError) {
	var reject *Error
	if errors.As(err, &reject) {
		return reject, nil
	}
	var disconnect *DisconnectError
	if errors.As(err, &disconnect) {
		return nil, disconnect
	}
	return nil, nil
}

// fail ends a call whose handler returned an error that is neither an Error
// nor a DisconnectError: the component traps with the message, and the host
// answers an internal error and logs it.
func fail(kind string, err error) {
	panic("rotor: the " + kind + " handler failed: " + err.Error())
}
