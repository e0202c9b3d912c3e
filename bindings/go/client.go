package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/oauth2"
)

// Client keeps a token fresh and is an oauth2.TokenSource. Safe for concurrent
// use: a cached token is returned without touching the network, it is refreshed
// once in the background near expiry, and when none is usable a single request
// is made however many goroutines ask. Goroutines waiting for that request are
// parked in Go (they hold no OS thread) and stop waiting when their context
// ends; the request itself goes on for the others.
type Client struct {
	native *C.sigma_client
	// Bit 0: closed. Above it: C calls in flight, two per call. The C client
	// is freed by Close, or by the last call to return after Close.
	calls atomic.Int64
	freed atomic.Bool

	// Where the native client's events go (nil: nowhere); one reference,
	// released by Close.
	events *eventSink
	// Added to the library's count of tokens served: the tokens this client
	// handed out from its own copy, and one per goroutine given a shared
	// request's token (for which the library counts one).
	served stripedCounter

	// The word in which the library publishes the serial of its current token
	// (sigma_client_serial_word): readable for the life of the process.
	word *uint64

	// The Go forms of the last token handed out, built once per token, with
	// the deadline until which they may be handed out without asking the
	// library. Tokens are told apart by serial number; no C token is kept.
	view atomic.Pointer[tokenView]

	// The one blocking C call for a token, shared by every waiting goroutine.
	flightMu sync.Mutex
	flight   *flight
}

type tokenView struct {
	serial uint64
	access string // the access token's text, shared with oauth.AccessToken
	// Once the token is due (the serial word's top bit set), until when it may
	// still be served without asking: on the monotonic clock, since monoBase.
	fresh time.Duration
	token Token
	oauth oauth2.Token
}

// serialDue is set in the serial word once the token's refresh is due.
const serialDue = uint64(C.SIGMA_SERIAL_DUE)

// The library's clock (CLOCK_MONOTONIC, sigma_monotonic_ns) read through Go's
// monotonic clock, which is the same clock: time.Since(monoBase) plus
// monoBaseNs is sigma_monotonic_ns() now, for the price of one clock read.
var (
	monoBase   = time.Now()
	monoBaseNs = uint64(C.sigma_monotonic_ns())
)

// freshFor converts a sigma_client_fresh_until answer to a tokenView deadline.
func freshFor(until C.uint64_t) time.Duration {
	if uint64(until) <= monoBaseNs {
		return 0
	}
	return time.Duration(uint64(until) - monoBaseNs)
}

// stripedCounter is a count many goroutines add to without sharing one cache
// line: each add picks one of 16 padded cells at random.
type stripedCounter [16]struct {
	n atomic.Int64
	_ [56]byte
}

func (s *stripedCounter) Add(delta int64) { s[rand.Uint32()&15].n.Add(delta) }

func (s *stripedCounter) Load() int64 {
	var sum int64
	for i := range s {
		sum += s[i].n.Load()
	}
	return sum
}

type flight struct {
	done chan struct{}
	view *tokenView
	err  error
}

// takeTokenView copies a C token into its Go forms with its first deadline,
// and frees it. Called between acquire and release.
func (c *Client) takeTokenView(t *C.sigma_token) *tokenView {
	defer C.sigma_token_free(t)
	token := tokenFromC(t)
	access := token.AccessToken.Reveal()
	return &tokenView{
		serial: token.Serial,
		access: access,
		fresh:  freshFor(C.sigma_client_fresh_until(c.native, C.uint64_t(token.Serial))),
		token:  *token,
		oauth:  oauthToken(token, access),
	}
}

func oauthToken(token *Token, access string) oauth2.Token {
	return oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: token.Expiry}
}

var _ oauth2.TokenSource = (*Client)(nil)

// NewClient makes a client for cfg. No request is made until the first token.
func NewClient(cfg Config) (*Client, error) {
	native, events, err := cfg.native()
	if err != nil {
		return nil, err
	}
	defer C.sigma_config_free(native)
	var client *C.sigma_client
	var cerr *C.sigma_error
	if status := C.sigma_client_new(native, &client, &cerr); status != C.SIGMA_STATUS_OK {
		events.release()
		return nil, takeError(status, cerr)
	}
	c := &Client{native: client, events: events, word: serialWord(client)}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// serialWord is the address of the native client's serial word. It is C
// memory that is never freed, so Go may keep and read it at any time.
func serialWord(native *C.sigma_client) *uint64 {
	return (*uint64)(unsafe.Pointer(C.sigma_client_serial_word(native)))
}

// acquire starts a C call; false after Close. Every true is matched by release.
func (c *Client) acquire() bool {
	if c.calls.Add(2)&1 != 0 {
		c.release()
		return false
	}
	return true
}

func (c *Client) release() {
	if c.calls.Add(-2) == 1 {
		c.free()
	}
}

func (c *Client) free() {
	if c.freed.CompareAndSwap(false, true) {
		C.sigma_client_free(c.native)
	}
}

// Close frees the client. Safe to call more than once and concurrently with
// other calls: it never waits for them (a request in flight finishes on its
// own), and later calls return ErrClosed. When this was the last Client using
// its Config's Logger and OnEvent (Impersonate's clients share their
// parent's), no event reaches them once Close returns: Close waits for
// deliveries running in other threads (up to 5 seconds).
func (c *Client) Close() error {
	old := c.calls.Or(1)
	if old == 0 {
		c.free()
	}
	if old&1 == 0 {
		c.events.release()
	}
	runtime.SetFinalizer(c, nil)
	c.view.Store(nil)
	return nil
}

// Token returns a token valid for at least 10 more seconds, as an oauth2.Token,
// which callers must not modify (the oauth2.TokenSource contract): it is
// shared between callers, as x/oauth2's ReuseTokenSource shares its own. A
// caller that modifies it anyway races with the others' reads of it; the next
// call notices the change and hands out an intact copy from then on. Note that
// fmt prints an oauth2.Token's AccessToken (it is x/oauth2's type);
// CurrentToken returns a Token that never prints its secrets.
func (c *Client) Token() (*oauth2.Token, error) {
	return c.TokenContext(context.Background())
}

// TokenContext is Token, waiting at most until ctx is done: then it returns an
// error wrapping ctx.Err() (errors.Is(err, context.DeadlineExceeded) holds),
// while the request others wait for goes on.
func (c *Client) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	view, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if o := &view.oauth; o.AccessToken != view.access || o.TokenType != "Bearer" || o.RefreshToken != "" ||
		o.ExpiresIn != 0 || o.Expiry != view.token.Expiry {
		// A caller modified the token it was given, which the contract
		// forbids: the others get an intact one (a few loads to check, where
		// a copy per call would cost an allocation).
		repaired := *view
		repaired.oauth = oauthToken(&view.token, view.access)
		c.view.CompareAndSwap(view, &repaired)
		return &repaired.oauth, nil
	}
	return &view.oauth, nil
}

// CurrentToken is TokenContext returning this package's Token, whose tokens are
// Secrets that no fmt verb, JSON encoding or slog handler prints.
func (c *Client) CurrentToken(ctx context.Context) (*Token, error) {
	view, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	copied := view.token
	return &copied, nil
}

// current returns the view of a usable token: the one held while the
// library's serial word holds its serial (no call into C at all: an
// invalidation, a new token or the refresh falling due changes the word at
// once); once it is due, the one held until the deadline the library gave (it
// asks at most once a millisecond while the refresh runs); else one the
// library has cached, else the result of the shared request.
func (c *Client) current(ctx context.Context) (*tokenView, error) {
	view := c.view.Load()
	if view != nil {
		if word := atomic.LoadUint64(c.word); word == view.serial ||
			(word == view.serial|serialDue && time.Since(monoBase) < view.fresh) {
			c.served.Add(1)
			return view, nil
		}
	}
	if !c.acquire() {
		return nil, ErrClosed
	}
	if view != nil {
		if until := C.sigma_client_fresh_until(c.native, C.uint64_t(view.serial)); until != 0 {
			c.release()
			runtime.KeepAlive(c)
			renewed := *view
			renewed.fresh = freshFor(until)
			c.view.CompareAndSwap(view, &renewed)
			c.served.Add(1)
			return &renewed, nil
		}
	}
	var t *C.sigma_token
	cached := C.sigma_client_cached_token(c.native, &t) != 0
	var taken *tokenView
	if cached {
		taken = c.takeTokenView(t)
	}
	c.release()
	runtime.KeepAlive(c)
	if cached {
		c.view.Store(taken)
		return taken, nil
	}
	return c.wait(ctx)
}

// wait joins the request in flight, or starts it, and waits in Go.
func (c *Client) wait(ctx context.Context) (*tokenView, error) {
	if inEventCallback() {
		// From OnEvent, maybe while this client's request is settling on
		// this very thread: joining it would wait for ourselves. Ask the
		// library here instead (it shares the request with any other).
		return c.fetch()
	}
	c.flightMu.Lock()
	f := c.flight
	started := f == nil
	if started {
		f = &flight{done: make(chan struct{})}
		c.flight = f
	}
	c.flightMu.Unlock()
	if started {
		if ctx.Done() == nil {
			// Nothing can end this caller's wait early, so it makes the call
			// itself: no goroutine to start and hand the result back from.
			c.fly(f)
		} else {
			go c.fly(f)
		}
	}
	select {
	case <-f.done:
		if f.err == nil {
			c.served.Add(1)
		}
		return f.view, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("sigmaauth: stopped waiting for a token: %w", ctx.Err())
	}
}

// fly makes the one blocking C call for a token (the only goroutine that
// holds an OS thread while a request is in flight), then wakes every waiter.
// It runs on a goroutine of its own, or on the caller's when the caller's
// context can never end its wait.
func (c *Client) fly(f *flight) {
	f.view, f.err = c.fetch()
	if f.err == nil {
		c.served.Add(-1) // each waiter counts itself
	}
	c.flightMu.Lock()
	c.flight = nil
	c.flightMu.Unlock()
	close(f.done)
}

// fetch makes the blocking C call for a token.
func (c *Client) fetch() (*tokenView, error) {
	if !c.acquire() {
		return nil, ErrClosed
	}
	var t *C.sigma_token
	var cerr *C.sigma_error
	status := C.sigma_client_token(c.native, &t, &cerr)
	var view *tokenView
	if status == C.SIGMA_STATUS_OK {
		view = c.takeTokenView(t)
	}
	c.release()
	runtime.KeepAlive(c)
	if status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}
	c.view.Store(view)
	return view, nil
}

// Impersonate returns a client whose tokens are email's (in the tenant
// organisation tenant, if not empty), obtained with Sigma's token-exchange
// grant and vouched for by c's tokens: c's credentials must be an admin's, and
// the user must not be an admin (ErrForbidden when a token is asked for).
// Calls for the same user share one cached, self-refreshing token, and all of
// them c's one admin token; c keeps a user's token while it is usable, so
// calling Impersonate per request and closing the result costs one exchange
// per user per token lifetime (Invalidate the user's token to force a new
// exchange, e.g. after the user's roles changed). The returned client is also an
// oauth2.TokenSource; Close it when done (c stays usable, and closing c first
// leaves it working).
func (c *Client) Impersonate(email, tenant string) (*Client, error) {
	cEmail, cTenant, free, err := userStrings(email, tenant)
	if err != nil {
		return nil, err
	}
	defer free()
	// The derived client sends its events (and c's, for its sake) to c's
	// sink: it holds a reference of its own.
	if !c.events.retain() {
		return nil, ErrClosed
	}
	if !c.acquire() {
		c.events.release()
		return nil, ErrClosed
	}
	var derived *C.sigma_client
	var cerr *C.sigma_error
	status := C.sigma_client_impersonate(c.native, cEmail, cTenant, &derived, &cerr)
	c.release()
	runtime.KeepAlive(c)
	if status != C.SIGMA_STATUS_OK {
		c.events.release()
		return nil, takeError(status, cerr)
	}
	user := &Client{native: derived, events: c.events, word: serialWord(derived)}
	runtime.SetFinalizer(user, (*Client).Close)
	return user, nil
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
	if c.acquire() {
		C.sigma_client_invalidate(c.native, rejected)
		c.release()
	}
	runtime.KeepAlive(c)
}

// invalidateSerial is Invalidate by the token's serial number.
func (c *Client) invalidateSerial(serial uint64) {
	if c.acquire() {
		C.sigma_client_invalidate_serial(c.native, C.uint64_t(serial))
		c.release()
	}
	runtime.KeepAlive(c)
}
