//go:build wasip1

package cabi

import "unsafe"

// sbrk is the runtime's own page allocator, usable before the runtime is
// initialised (the build passes -checklinkname=0 to allow this link).
//
//go:linkname sbrk runtime.sbrk
func sbrk(n uintptr) unsafe.Pointer

// initialised turns true when package initialisation runs, that is once the
// Go runtime is up and its heap can be used.
var initialised bool

func init() { initialised = true }

// pauseClock tells the WASI adapter to answer clock reads from a cached
// value: the collector reads the clock while allocating, and a component may
// not call an import from within `cabi_realloc`.
//
//go:wasmimport wasi_snapshot_preview1 adapter_monotonic_clock_set_paused
func pauseClock(paused bool)

// realloc is the canonical ABI's allocator, called by the host to place the
// arguments of an exported function. Only fresh allocations are made: the
// host never grows a buffer it got from this module.
//
//go:wasmexport cabi_realloc
func realloc(old unsafe.Pointer, oldSize, align, newSize uintptr) unsafe.Pointer {
	if old != nil || oldSize != 0 {
		panic("cabi: cabi_realloc cannot resize")
	}
	if !initialised {
		// Before initialisation: raw pages, never freed (only the WASI
		// adapter allocates this early, once).
		base := sbrk(newSize + align)
		return unsafe.Add(base, (align-uintptr(base)%align)%align)
	}
	pauseClock(true)
	pointer := Allocate(&params, newSize, align)
	pauseClock(false)
	return pointer
}
