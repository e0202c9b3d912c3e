package sigmaauth

/*
#include "sigma_auth.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Stats are a Client's counters since it was created.
type Stats struct {
	// TokensServed counts the tokens the Client returned (Token,
	// TokenContext, CurrentToken, and each request of its HTTPClient), plus,
	// for a client others Impersonate, its token used for their exchanges.
	TokensServed uint64
	// Token requests by grant and outcome.
	ClientCredentialsOK     uint64
	ClientCredentialsFailed uint64
	RefreshTokenOK          uint64
	RefreshTokenFailed      uint64
	TokenExchangeOK         uint64
	TokenExchangeFailed     uint64
	BackgroundRefreshes     uint64
	Retries                 uint64 // attempts retried after a transient failure
	CacheHits               uint64 // tokens taken from the token cache or the token store
	Invalidations           uint64 // tokens dropped after Invalidate (or a 401 to HTTPClient)
	// LastSuccess and LastFailure are when the last token was obtained and
	// the last request failed; zero for never.
	LastSuccess time.Time
	LastFailure time.Time
}

// Stats returns the client's counters (ErrClosed after Close).
func (c *Client) Stats() (Stats, error) {
	if !c.acquire() {
		return Stats{}, ErrClosed
	}
	var s C.sigma_stats
	var cerr *C.sigma_error
	status := C.sigma_client_stats(c.native, &s, C.size_t(unsafe.Sizeof(s)), &cerr)
	c.release()
	runtime.KeepAlive(c)
	if status != C.SIGMA_STATUS_OK {
		return Stats{}, takeError(status, cerr)
	}
	served := int64(s.tokens_served) + c.served.Load()
	if served < 0 { // read while a shared request settled
		served = 0
	}
	return Stats{
		TokensServed:            uint64(served),
		ClientCredentialsOK:     uint64(s.client_credentials_ok),
		ClientCredentialsFailed: uint64(s.client_credentials_failed),
		RefreshTokenOK:          uint64(s.refresh_token_ok),
		RefreshTokenFailed:      uint64(s.refresh_token_failed),
		TokenExchangeOK:         uint64(s.token_exchange_ok),
		TokenExchangeFailed:     uint64(s.token_exchange_failed),
		BackgroundRefreshes:     uint64(s.background_refreshes),
		Retries:                 uint64(s.retries),
		CacheHits:               uint64(s.cache_hits),
		Invalidations:           uint64(s.invalidations),
		LastSuccess:             unixMilli(int64(s.last_success_unix_ms)),
		LastFailure:             unixMilli(int64(s.last_failure_unix_ms)),
	}, nil
}

func unixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
