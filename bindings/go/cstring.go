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

// takeString copies, then frees, a string the library returned for the
// caller to free; "" for NULL.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.sigma_string_free(p)
	return C.GoString(p)
}

// userStrings copies a user's email, and tenant (NULL when empty), into C
// memory, for impersonation; free releases both.
func userStrings(email, tenant string) (cEmail, cTenant *C.char, free func(), err error) {
	if cEmail, err = cString("email", email); err != nil {
		return nil, nil, nil, err
	}
	if tenant != "" {
		if cTenant, err = cString("tenant", tenant); err != nil {
			freeString(cEmail)
			return nil, nil, nil, err
		}
	}
	return cEmail, cTenant, func() { freeString(cEmail); freeString(cTenant) }, nil
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
