// Package log writes to the host's log, where each line is tagged with the
// tenant and plugin. The host may cut long lines and drop lines past a
// per-call budget.
//
// Outside a component (in `go test`) lines go to standard error.
package log

import "fmt"

// Level is the severity of a line.
type Level uint8

// The levels, least severe first.
const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// Write writes one line at level.
func Write(level Level, message string) { write(level, message) }

// Trace writes a line at trace level.
func Trace(message string) { write(LevelTrace, message) }

// Debug writes a line at debug level.
func Debug(message string) { write(LevelDebug, message) }

// Info writes a line at info level.
func Info(message string) { write(LevelInfo, message) }

// Warn writes a line at warn level.
func Warn(message string) { write(LevelWarn, message) }

// Error writes a line at error level.
func Error(message string) { write(LevelError, message) }

// Debugf formats a line at debug level.
func Debugf(format string, args ...any) { write(LevelDebug, fmt.Sprintf(format, args...)) }

// Infof formats a line at info level.
func Infof(format string, args ...any) { write(LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf formats a line at warn level.
func Warnf(format string, args ...any) { write(LevelWarn, fmt.Sprintf(format, args...)) }

// Errorf formats a line at error level.
func Errorf(format string, args ...any) { write(LevelError, fmt.Sprintf(format, args...)) }
