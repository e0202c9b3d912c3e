package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
)

// PendingLogin is a person's sign-in whose browser step is under way: open
// AuthorizeURL, then Wait for the browser to come back to this program (or
// Complete with the URL it was sent to, pasted). It completes once; Close
// frees it (an incomplete one stops listening).
type PendingLogin struct {
	mu     sync.Mutex
	native *C.sigma_login
	url    string
}

// BeginLogin starts a sign-in to endpoint (a cloud name or base URL), to be
// stored under profile ("" for "default"), asking for scopes ("" for
// "api:access"; "api:access mcp:access" for Sigma's hosted MCP server too),
// waiting at most timeout for the browser (0 for 5 minutes). A host that
// offers no sign-in, or whose discovery names endpoints off Sigma's hosts,
// is an ErrLoginUnavailable, before any browser is involved.
func BeginLogin(endpoint, profile, scopes string, timeout time.Duration) (*PendingLogin, error) {
	cEndpoint, err := cString("endpoint", endpoint)
	if err != nil {
		return nil, err
	}
	defer freeString(cEndpoint)
	var cProfile, cScopes *C.char
	if profile != "" {
		if cProfile, err = cString("profile", profile); err != nil {
			return nil, err
		}
		defer freeString(cProfile)
	}
	if scopes != "" {
		if cScopes, err = cString("scopes", scopes); err != nil {
			return nil, err
		}
		defer freeString(cScopes)
	}
	ms := timeout.Milliseconds()
	if timeout > 0 && ms == 0 {
		ms = 1 // 0 would mean the default
	}
	var native *C.sigma_login
	var cerr *C.sigma_error
	status := C.sigma_login_begin(cEndpoint, cProfile, cScopes, C.uint64_t(ms), &native, &cerr)
	if status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}
	p := &PendingLogin{native: native, url: C.GoString(C.sigma_login_authorize_url(native))}
	runtime.SetFinalizer(p, (*PendingLogin).Close)
	return p, nil
}

// AuthorizeURL is the URL the person opens in a browser.
func (p *PendingLogin) AuthorizeURL() string { return p.url }

// Wait waits for the browser to come back, answers it with a page, and
// stores the sign-in.
func (p *PendingLogin) Wait() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.native == nil {
		return ErrClosed
	}
	var cerr *C.sigma_error
	if status := C.sigma_login_wait(p.native, &cerr); status != C.SIGMA_STATUS_OK {
		return takeError(status, cerr)
	}
	return nil
}

// Complete completes the sign-in with the URL the browser was sent back to,
// pasted by the person, and stores it.
func (p *PendingLogin) Complete(redirectedURL string) error {
	url, err := cString("redirectedURL", redirectedURL)
	if err != nil {
		return err
	}
	defer freeString(url)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.native == nil {
		return ErrClosed
	}
	var cerr *C.sigma_error
	if status := C.sigma_login_complete(p.native, url, &cerr); status != C.SIGMA_STATUS_OK {
		return takeError(status, cerr)
	}
	return nil
}

// Close frees the sign-in. Safe to call more than once.
func (p *PendingLogin) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.native != nil {
		C.sigma_login_free(p.native)
		p.native = nil
	}
	runtime.SetFinalizer(p, nil)
}

// Login signs a person in: open (for example a function that starts the
// desktop's browser, or prints the URL) is given the URL to visit, then Login
// waits for the browser to come back and stores the sign-in under profile.
func Login(endpoint, profile, scopes string, timeout time.Duration, open func(url string) error) error {
	p, err := BeginLogin(endpoint, profile, scopes, timeout)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := open(p.AuthorizeURL()); err != nil {
		return err
	}
	return p.Wait()
}

// Logout revokes the sign-in stored under profile ("" for "default") at Sigma
// when it offers revocation, then forgets it. No sign-in is not an error.
func Logout(profile string) error {
	var cProfile *C.char
	if profile != "" {
		var err error
		if cProfile, err = cString("profile", profile); err != nil {
			return err
		}
		defer freeString(cProfile)
	}
	var cerr *C.sigma_error
	if status := C.sigma_logout(cProfile, &cerr); status != C.SIGMA_STATUS_OK {
		return takeError(status, cerr)
	}
	return nil
}
