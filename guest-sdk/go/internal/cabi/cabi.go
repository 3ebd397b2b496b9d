// Package cabi is the memory side of the component model's canonical ABI for
// the generated bindings: it allocates the buffers that lists and strings
// travel in, and exports `cabi_realloc`, through which the host allocates
// the arguments of an exported function in this module's memory.
//
// Go's collector does not move objects but frees what Go code no longer
// references. A buffer handed to the host, or filled by it, is referenced
// from nowhere in Go until the bindings read it, so each one is pinned until
// the bindings say the call's arguments are lifted (Unpin).
package cabi

import (
	"runtime"
	"unsafe"
)

// Allocate returns size bytes aligned to align (1, 2, 4 or 8), zeroed and
// pinned with pinner until the pinner is unpinned.
func Allocate(pinner *runtime.Pinner, size, align uintptr) unsafe.Pointer {
	pointer := allocate(size, align)
	if pointer != nil {
		pinner.Pin(pointer)
	}
	return pointer
}

// allocate makes a zeroed buffer of size bytes whose element type has the
// alignment asked for, so the buffer starts at a multiple of it.
func allocate(size, align uintptr) unsafe.Pointer {
	if size == 0 {
		return nil
	}
	if size%align != 0 {
		panic("cabi: size is not a multiple of the alignment")
	}
	switch align {
	case 1:
		return unsafe.Pointer(unsafe.SliceData(make([]byte, size)))
	case 2:
		return unsafe.Pointer(unsafe.SliceData(make([]uint16, size/2)))
	case 4:
		return unsafe.Pointer(unsafe.SliceData(make([]uint32, size/4)))
	case 8:
		return unsafe.Pointer(unsafe.SliceData(make([]uint64, size/8)))
	default:
		panic("cabi: unsupported alignment")
	}
}

// params holds the buffers the host allocated for the arguments of the call
// in progress.
var params runtime.Pinner

// Unpin releases the buffers of the current call's arguments: the bindings
// call it once they have lifted them into Go values that reference them.
func Unpin() {
	params.Unpin()
}
