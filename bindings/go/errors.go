package sigmaauth

import "errors"

// Status mirrors the C sigma_status; the values never change.
type Status uint32

const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusInsecureURL     Status = 2
	StatusNetwork         Status = 3
	StatusTimeout         Status = 4
	StatusInvalidClient   Status = 5
	StatusInvalidGrant    Status = 6
	StatusRateLimited     Status = 7
	StatusServer          Status = 8
	StatusHTTP            Status = 9
	StatusProtocol        Status = 10
	StatusInternal        Status = 11
	StatusForbidden       Status = 12
)

var statusNames = [...]string{"OK", "INVALID_ARGUMENT", "INSECURE_URL", "NETWORK", "TIMEOUT", "INVALID_CLIENT",
	"INVALID_GRANT", "RATE_LIMITED", "SERVER", "HTTP", "PROTOCOL", "INTERNAL", "FORBIDDEN"}

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
	ErrInvalidArgument = &Error{Code: StatusInvalidArgument}
	ErrInsecureURL     = &Error{Code: StatusInsecureURL}
	ErrNetwork         = &Error{Code: StatusNetwork}
	ErrTimeout         = &Error{Code: StatusTimeout}
	ErrInvalidClient   = &Error{Code: StatusInvalidClient}
	ErrInvalidGrant    = &Error{Code: StatusInvalidGrant}
	ErrRateLimited     = &Error{Code: StatusRateLimited}
	ErrServer          = &Error{Code: StatusServer}
	ErrHTTP            = &Error{Code: StatusHTTP}
	ErrProtocol        = &Error{Code: StatusProtocol}
	ErrInternal        = &Error{Code: StatusInternal}
	ErrForbidden       = &Error{Code: StatusForbidden}
)

// ErrClosed is returned by a Client used after Close.
var ErrClosed = errors.New("sigmaauth: the client is closed")
