//go:build !wasip1

package log

import (
	"fmt"
	"os"
)

var names = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}

func write(level Level, message string) {
	fmt.Fprintf(os.Stderr, "%s %s\n", names[level], message)
}
