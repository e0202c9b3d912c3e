package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// Client keeps a token fresh and is an oauth2.TokenSource. Safe for concurrent
// use: Token returns the cached token without touching the network, refreshes
// once in the background near expiry, and makes a single request when none is
// usable, however many goroutines ask.
type Client struct {
	mu     sync.RWMutex // read-held by every C call; Close takes it to free
	native *C.sigma_client

	// The Go form of the last token handed out, built once per token. Tokens are
	// told apart by serial number, so no C token is kept (nor any address
	// compared, which a freed and reused token could fool).
	view atomic.Pointer[tokenView]
}

type tokenView struct {
	serial  uint64
	goToken oauth2.Token
}

// takeTokenView copies a C token into its Go form and frees it.
func takeTokenView(t *C.sigma_token) *tokenView {
	defer C.sigma_token_free(t)
	token := tokenFromC(t)
	return &tokenView{
		serial:  token.Serial,
		goToken: oauth2.Token{AccessToken: token.AccessToken, TokenType: "Bearer", Expiry: token.Expiry},
	}
}

var _ oauth2.TokenSource = (*Client)(nil)

// NewClient makes a client for cfg. No request is made until the first Token.
func NewClient(cfg Config) (*Client, error) {
	native, err := cfg.native()
	if err != nil {
		return nil, err
	}
	defer C.sigma_config_free(native)
	var client *C.sigma_client
	var cerr *C.sigma_error
	if status := C.sigma_client_new(native, &client, &cerr); status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}
	c := &Client{native: client}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Token returns a token valid for at least 10 more seconds, as an oauth2.Token
// (a fresh copy each call: callers may modify it).
func (c *Client) Token() (*oauth2.Token, error) {
	c.mu.RLock()
	if c.native == nil {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	// The hot path: one C call asks whether the token already held is current.
	if view := c.view.Load(); view != nil && C.sigma_client_serial_is_current(c.native, C.uint64_t(view.serial)) != 0 {
		c.mu.RUnlock()
		runtime.KeepAlive(c)
		copied := view.goToken
		return &copied, nil
	}
	var t *C.sigma_token
	var cerr *C.sigma_error
	status := C.sigma_client_token(c.native, &t, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}

	view := takeTokenView(t)
	c.view.Store(view)
	copied := view.goToken
	return &copied, nil
}

// Invalidate reports that an API call was refused (401) with accessToken. The
// cached token is dropped only if it is still that one, so a burst of 401s
// causes one new fetch.
func (c *Client) Invalidate(accessToken string) {
	rejected, err := cString("accessToken", accessToken)
	if err != nil {
		return
	}
	defer freeSecret(rejected)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.native != nil {
		C.sigma_client_invalidate(c.native, rejected)
	}
	runtime.KeepAlive(c)
}

// Close frees the client. Safe to call more than once, and concurrently with
// other calls (it waits for them); later calls return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.native != nil {
		C.sigma_client_free(c.native)
		c.native = nil
		runtime.SetFinalizer(c, nil)
	}
	c.view.Store(nil)
	return nil
}
