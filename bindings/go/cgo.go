// Package sigmaauth obtains, caches and refreshes Sigma Computing REST API
// tokens through the sigma-auth C library (a Rust core).
//
// A *Client is an oauth2.TokenSource:
//
//	client, err := sigmaauth.NewClient(sigmaauth.Config{Endpoint: "aws-us-east", ClientID: id, ClientSecret: secret})
//	if err != nil { ... }
//	defer client.Close()
//	http := oauth2.NewClient(ctx, client)        // or client.HTTPClient(nil) for one retry on 401
//
// The package links libsigma_auth.a statically, so binaries are self-contained.
// Build the archive first, from the repository root:
//
//	cargo build --release -p sigma-auth
//
// To link the shared library instead, build with -tags sigma_dynamic and make
// target/release/libsigma_auth.so findable at run time (LD_LIBRARY_PATH).
package sigmaauth

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo !sigma_dynamic LDFLAGS: ${SRCDIR}/../../target/release/libsigma_auth.a -lm -ldl -lpthread -lrt -lutil
#cgo sigma_dynamic LDFLAGS: -L${SRCDIR}/../../target/release -lsigma_auth
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
