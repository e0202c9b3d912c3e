package sigmaauth_test

import (
	"errors"
	"testing"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

// Every status the C library knows has a Go constant (checked against the
// header by the compiler), a name from the library, and a sentinel.
func TestEveryStatusOfTheLibraryHasItsConstantNameAndSentinel(t *testing.T) {
	sentinels := map[sigmaauth.Status]*sigmaauth.Error{
		sigmaauth.StatusInvalidArgument:  sigmaauth.ErrInvalidArgument,
		sigmaauth.StatusInsecureURL:      sigmaauth.ErrInsecureURL,
		sigmaauth.StatusNetwork:          sigmaauth.ErrNetwork,
		sigmaauth.StatusTimeout:          sigmaauth.ErrTimeout,
		sigmaauth.StatusInvalidClient:    sigmaauth.ErrInvalidClient,
		sigmaauth.StatusInvalidGrant:     sigmaauth.ErrInvalidGrant,
		sigmaauth.StatusRateLimited:      sigmaauth.ErrRateLimited,
		sigmaauth.StatusServer:           sigmaauth.ErrServer,
		sigmaauth.StatusHTTP:             sigmaauth.ErrHTTP,
		sigmaauth.StatusProtocol:         sigmaauth.ErrProtocol,
		sigmaauth.StatusInternal:         sigmaauth.ErrInternal,
		sigmaauth.StatusForbidden:        sigmaauth.ErrForbidden,
		sigmaauth.StatusLoginRequired:    sigmaauth.ErrLoginRequired,
		sigmaauth.StatusLoginDenied:      sigmaauth.ErrLoginDenied,
		sigmaauth.StatusLoginUnavailable: sigmaauth.ErrLoginUnavailable,
	}
	known := sigmaauth.KnownStatusCount()
	if known != len(sentinels)+1 {
		t.Fatalf("the library knows %d statuses, Go has sentinels for %d besides OK", known, len(sentinels))
	}
	if sigmaauth.StatusOK.String() != "OK" || sigmaauth.Status(known).String() != "UNKNOWN" {
		t.Fatal("names")
	}
	for status, sentinel := range sentinels {
		if sentinel.Code != status || status.String() == "UNKNOWN" || status == sigmaauth.StatusOK {
			t.Fatalf("%d: %v", status, sentinel)
		}
		if !errors.Is(&sigmaauth.Error{Code: status, Message: "x"}, sentinel) {
			t.Fatalf("errors.Is fails for %v", status)
		}
	}
	if sigmaauth.StatusInvalidClient.String() != "INVALID_CLIENT" || sigmaauth.StatusForbidden != 12 {
		t.Fatal("a name or value changed")
	}
}
