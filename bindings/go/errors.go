package sigmaauth

/*
#include "sigma_auth.h"
*/
import "C"

import "errors"

// Status mirrors the C sigma_status; the values never change. The constants
// are the header's, so the compiler checks every name against it.
type Status uint32

const (
	StatusOK              = Status(C.SIGMA_STATUS_OK)
	StatusInvalidArgument = Status(C.SIGMA_STATUS_INVALID_ARGUMENT)
	StatusInsecureURL     = Status(C.SIGMA_STATUS_INSECURE_URL)
	StatusNetwork         = Status(C.SIGMA_STATUS_NETWORK)
	StatusTimeout         = Status(C.SIGMA_STATUS_TIMEOUT)
	StatusInvalidClient   = Status(C.SIGMA_STATUS_INVALID_CLIENT)
	StatusInvalidGrant    = Status(C.SIGMA_STATUS_INVALID_GRANT)
	StatusRateLimited     = Status(C.SIGMA_STATUS_RATE_LIMITED)
	StatusServer          = Status(C.SIGMA_STATUS_SERVER)
	StatusHTTP            = Status(C.SIGMA_STATUS_HTTP)
	StatusProtocol        = Status(C.SIGMA_STATUS_PROTOCOL)
	StatusInternal        = Status(C.SIGMA_STATUS_INTERNAL)
	StatusForbidden       = Status(C.SIGMA_STATUS_FORBIDDEN)
	// StatusLoginRequired: no stored sign-in for the profile, or Sigma refused
	// its refresh token; sign in again (Login, or sigma-token login).
	StatusLoginRequired = Status(C.SIGMA_STATUS_LOGIN_REQUIRED)
	// StatusLoginDenied: the sign-in was declined in the browser.
	StatusLoginDenied = Status(C.SIGMA_STATUS_LOGIN_DENIED)
	// StatusLoginUnavailable: the host offers no browser sign-in, or its
	// discovery named endpoints off Sigma's hosts.
	StatusLoginUnavailable = Status(C.SIGMA_STATUS_LOGIN_UNAVAILABLE)
)

// statusNames are the library's names (sigma_status_name) of the values it
// knows, read once.
var statusNames = func() []string {
	var names []string
	for s := C.uint32_t(0); ; s++ {
		name := C.GoString(C.sigma_status_name(s))
		if name == "UNKNOWN" {
			return names
		}
		names = append(names, name)
	}
}()

// String is the status's name, e.g. "INVALID_CLIENT", or "UNKNOWN".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "UNKNOWN"
}

// Error is every failure of this package: a stable Code, and the HTTP status and
// Sigma requestId when there was a response. It never contains a secret or token.
type Error struct {
	Code       Status
	HTTPStatus int // 0 when there was no response
	RequestID  string
	Message    string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "sigmaauth: " + e.Code.String()
	}
	return "sigmaauth: " + e.Message
}

// Is makes errors.Is(err, ErrInvalidClient) and the like match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.HTTPStatus == 0 && t.RequestID == "" && t.Code == e.Code
}

// Sentinels for errors.Is, one per status.
var (
	ErrInvalidArgument  = &Error{Code: StatusInvalidArgument}
	ErrInsecureURL      = &Error{Code: StatusInsecureURL}
	ErrNetwork          = &Error{Code: StatusNetwork}
	ErrTimeout          = &Error{Code: StatusTimeout}
	ErrInvalidClient    = &Error{Code: StatusInvalidClient}
	ErrInvalidGrant     = &Error{Code: StatusInvalidGrant}
	ErrRateLimited      = &Error{Code: StatusRateLimited}
	ErrServer           = &Error{Code: StatusServer}
	ErrHTTP             = &Error{Code: StatusHTTP}
	ErrProtocol         = &Error{Code: StatusProtocol}
	ErrInternal         = &Error{Code: StatusInternal}
	ErrForbidden        = &Error{Code: StatusForbidden}
	ErrLoginRequired    = &Error{Code: StatusLoginRequired}
	ErrLoginDenied      = &Error{Code: StatusLoginDenied}
	ErrLoginUnavailable = &Error{Code: StatusLoginUnavailable}
)

// ErrClosed is returned by a Client used after Close.
var ErrClosed = errors.New("sigmaauth: the client is closed")
