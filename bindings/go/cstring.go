package sigmaauth

/*
#include <stdlib.h>
#include <string.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// cString copies s into C memory; strings with a NUL byte cannot cross into C
// intact, so they are refused rather than silently truncated.
func cString(name, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Code: StatusInvalidArgument, Message: "INVALID_ARGUMENT: " + name + " contains a NUL byte"}
	}
	return C.CString(s), nil
}

// freeSecret wipes a C copy of a secret before freeing it.
func freeSecret(p *C.char) {
	if p != nil {
		C.memset(unsafe.Pointer(p), 0, C.strlen(p))
		C.free(unsafe.Pointer(p))
	}
}

func freeString(p *C.char) {
	C.free(unsafe.Pointer(p))
}

// takeError converts and frees a C error. status is the call's return value.
func takeError(status C.sigma_status, e *C.sigma_error) error {
	defer C.sigma_error_free(e)
	if e == nil {
		return &Error{Code: Status(status), Message: Status(status).String()}
	}
	err := &Error{
		Code:       Status(C.sigma_error_code(e)),
		HTTPStatus: int(C.sigma_error_http_status(e)),
		Message:    C.GoString(C.sigma_error_message(e)),
	}
	if id := C.sigma_error_request_id(e); id != nil {
		err.RequestID = C.GoString(id)
	}
	return err
}
