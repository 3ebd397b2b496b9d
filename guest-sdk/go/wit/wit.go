// Package wit holds the generic values of the WebAssembly component model
// that the WIT contract uses: options, results, tuples and the unit type.
//
// The bindings generated from the WIT (in internal/bindings) use these types
// for `option<T>`, `result<T, E>` and `tuple<..>`; the rotor package
// re-exports them, so a plugin rarely imports this package itself.
package wit

// The tags of an Option.
const (
	OptionNone = 0
	OptionSome = 1
)

// Option is WIT's `option<T>`: a value of T, or none.
type Option[T any] struct {
	tag   uint8
	value T
}

// Some is an Option holding value.
func Some[T any](value T) Option[T] { return Option[T]{tag: OptionSome, value: value} }

// None is an empty Option.
func None[T any]() Option[T] { return Option[T]{} }

// Tag is OptionSome or OptionNone.
func (o Option[T]) Tag() uint8 { return o.tag }

// IsSome tells whether the option holds a value.
func (o Option[T]) IsSome() bool { return o.tag == OptionSome }

// IsNone tells whether the option is empty.
func (o Option[T]) IsNone() bool { return o.tag == OptionNone }

// Some is the value held; it panics when the option is empty.
func (o Option[T]) Some() T {
	if o.tag != OptionSome {
		panic("wit: Some on an empty option")
	}
	return o.value
}

// Get is the value held and true, or the zero value and false.
func (o Option[T]) Get() (T, bool) { return o.value, o.tag == OptionSome }

// SomeOr is the value held, or fallback when the option is empty.
func (o Option[T]) SomeOr(fallback T) T {
	if o.tag == OptionSome {
		return o.value
	}
	return fallback
}

// The tags of a Result.
const (
	ResultOk  = 0
	ResultErr = 1
)

// Result is WIT's `result<T, E>`: a value of T on success, of E on failure.
type Result[T any, E any] struct {
	tag uint8
	ok  T
	err E
}

// Ok is a successful Result.
func Ok[T any, E any](value T) Result[T, E] { return Result[T, E]{tag: ResultOk, ok: value} }

// Err is a failed Result.
func Err[T any, E any](value E) Result[T, E] { return Result[T, E]{tag: ResultErr, err: value} }

// Tag is ResultOk or ResultErr.
func (r Result[T, E]) Tag() uint8 { return r.tag }

// IsOk tells whether the result is a success.
func (r Result[T, E]) IsOk() bool { return r.tag == ResultOk }

// IsErr tells whether the result is a failure.
func (r Result[T, E]) IsErr() bool { return r.tag == ResultErr }

// Ok is the success value; it panics on a failure.
func (r Result[T, E]) Ok() T {
	if r.tag != ResultOk {
		panic("wit: Ok on a failed result")
	}
	return r.ok
}

// Err is the failure value; it panics on a success.
func (r Result[T, E]) Err() E {
	if r.tag != ResultErr {
		panic("wit: Err on a successful result")
	}
	return r.err
}

// Unit is WIT's empty type, the `_` of `result<_, E>`.
type Unit struct{}

// Tuple2 is WIT's `tuple<T0, T1>`.
type Tuple2[T0 any, T1 any] struct {
	F0 T0
	F1 T1
}

// Tuple3 is WIT's `tuple<T0, T1, T2>`.
type Tuple3[T0 any, T1 any, T2 any] struct {
	F0 T0
	F1 T1
	F2 T2
}
