package sigmaauth

// The C event callback lives in a file of its own: a file with an //export
// may only declare in its preamble (cgo copies it into _cgo_export.c), so the
// C that calls it is in events.go.

/*
#include "sigma_auth.h"
*/
import "C"

import "unsafe"

// sigmaGoEvent receives every event of every config with a Logger or OnEvent,
// through sigma_go_trampoline (events.go). context is the config's cgo.Handle.
//
//export sigmaGoEvent
func sigmaGoEvent(context unsafe.Pointer, event *C.sigma_event) {
	deliverEvent(uintptr(context), event)
}
