package sigmaauth

/*
#include <stdint.h>
#include "sigma_auth.h"

extern void sigmaGoEvent(void *context, sigma_event *event); // events_cgo.go

// How many event callbacks this thread is running: a token call made from
// one must not wait for a request that is settling on this very thread.
static _Thread_local unsigned sigma_go_event_depth;

static void sigma_go_trampoline(void *context, const sigma_event *event) {
	sigma_go_event_depth++;
	sigmaGoEvent(context, (sigma_event *)event);
	sigma_go_event_depth--;
}

// The context crosses as an integer (a cgo.Handle), so Go never makes a
// pointer of it.
static sigma_status sigma_go_set_event_callback(sigma_config *config, uintptr_t context, sigma_error **error_out) {
	return sigma_config_set_event_callback(config, sigma_go_trampoline, (void *)context, error_out);
}

static void sigma_go_unregister(uintptr_t context) {
	sigma_event_callback_unregister((void *)context);
}

static int sigma_go_in_event_callback(void) {
	return sigma_go_event_depth != 0;
}
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports. The values are the C library's and
// never change; new ones may be added.
type EventKind uint32

const (
	// EventTokenObtained: a token was obtained (from Sigma, or from the token cache).
	EventTokenObtained EventKind = C.SIGMA_EVENT_TOKEN_OBTAINED
	// EventRefreshStarted: a token request started (for a waiting caller, or in the background).
	EventRefreshStarted EventKind = C.SIGMA_EVENT_REFRESH_STARTED
	// EventRefreshFailed: a token request failed for good, after its retries.
	EventRefreshFailed EventKind = C.SIGMA_EVENT_REFRESH_FAILED
	// EventRetryScheduled: an attempt failed in a way worth retrying; the next waits Event.Wait.
	EventRetryScheduled EventKind = C.SIGMA_EVENT_RETRY_SCHEDULED
	// EventFallbackToClientCredentials: Sigma refused the refresh token, so
	// client credentials are used instead.
	EventFallbackToClientCredentials EventKind = C.SIGMA_EVENT_FALLBACK_TO_CLIENT_CREDENTIALS
	// EventInvalidated: a token was dropped after a caller reported it refused (Invalidate).
	EventInvalidated EventKind = C.SIGMA_EVENT_INVALIDATED
	// EventCacheHit: the token came from the token cache shared by processes.
	EventCacheHit EventKind = C.SIGMA_EVENT_CACHE_HIT
	// EventCacheBypassed: the token cache could not be used; Event.Message says why.
	EventCacheBypassed EventKind = C.SIGMA_EVENT_CACHE_BYPASSED
	// EventStoreHit: the token came from the token store shared by hosts (Config.TokenStore).
	EventStoreHit EventKind = C.SIGMA_EVENT_STORE_HIT
	// EventStoreUnavailable: the token store could not be used; Event.Message
	// says why. The call went on without it.
	EventStoreUnavailable EventKind = C.SIGMA_EVENT_STORE_UNAVAILABLE
)

// Each kind's name and whether it is logged as a warning, indexed by value
// (0: UNKNOWN), as the library says: the binding keeps no copy of its own.
var eventKindNames, eventKindWarns = loadEventKinds()

func loadEventKinds() (names []string, warns []bool) {
	names, warns = []string{"UNKNOWN"}, []bool{false}
	for kind := C.uint32_t(1); ; kind++ {
		name := C.GoString(C.sigma_event_kind_name(kind))
		if name == "UNKNOWN" {
			return names, warns
		}
		names = append(names, name)
		warns = append(warns, C.sigma_event_kind_is_warning(kind) != 0)
	}
}

// String is the kind's stable name, e.g. "TOKEN_OBTAINED", or "UNKNOWN".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return eventKindNames[0]
}

// MarshalText encodes the kind as its name (in JSON, for instance).
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// level is the log level of the kind, as the library says: Warn for
// failures, retries, fallbacks, cache bypasses and an unavailable token
// store, Debug for routine work.
func (k EventKind) level() slog.Level {
	if int(k) < len(eventKindWarns) && eventKindWarns[k] {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// Event is one thing the library did, given to Config.OnEvent and logged to
// Config.Logger. Fields that do not apply to its kind are zero. An Event
// never holds a secret or a token: a token is named by its Serial, and
// messages have been scrubbed by the library.
type Event struct {
	Kind EventKind
	// Grant is "client_credentials", "refresh_token" or "token_exchange", or
	// empty (a token from the token cache, an invalidation).
	Grant string
	// Status is the failure's code (RETRY_SCHEDULED, REFRESH_FAILED,
	// FALLBACK_TO_CLIENT_CREDENTIALS), else StatusOK.
	Status     Status
	HTTPStatus int    // of the response concerned, or 0
	RequestID  string // Sigma's requestId, if the response had one
	// Message is the failure's message, or why the token cache was bypassed.
	Message    string
	Attempt    int           // which attempt of the request (1 for the first), or 0
	Wait       time.Duration // before the next attempt (RETRY_SCHEDULED)
	Duration   time.Duration // how long the request took (TOKEN_OBTAINED, REFRESH_FAILED)
	Serial     uint64        // the token concerned (Token.Serial), or 0
	ExpiresIn  time.Duration // the token's lifetime (TOKEN_OBTAINED)
	Background bool          // done by a background refresh rather than for a waiting caller
}

// attrs are the event's fields that apply, as logged.
func (e Event) attrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("kind", e.Kind.String()))
	if e.Grant != "" {
		attrs = append(attrs, slog.String("grant", e.Grant))
	}
	if e.Serial != 0 {
		attrs = append(attrs, slog.Uint64("serial", e.Serial))
	}
	if e.ExpiresIn != 0 {
		attrs = append(attrs, slog.Duration("expires_in", e.ExpiresIn))
	}
	if e.Attempt != 0 {
		attrs = append(attrs, slog.Int("attempt", e.Attempt))
	}
	if e.Kind == EventRetryScheduled {
		attrs = append(attrs, slog.Duration("wait", e.Wait))
	}
	if e.HTTPStatus != 0 {
		attrs = append(attrs, slog.Int("http_status", e.HTTPStatus))
	}
	if e.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", e.RequestID))
	}
	if e.Status != StatusOK {
		attrs = append(attrs, slog.String("status", e.Status.String()))
	}
	if e.Duration != 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	if e.Background {
		attrs = append(attrs, slog.Bool("background", true))
	}
	if e.Message != "" {
		attrs = append(attrs, slog.String("message", e.Message))
	}
	return attrs
}

// LogValue logs the event as a group of the fields that apply.
func (e Event) LogValue() slog.Value { return slog.GroupValue(e.attrs()...) }

// String describes the event in one line, e.g.
// "TOKEN_OBTAINED grant=client_credentials serial=1 expires_in=1h0m0s duration=3ms".
func (e Event) String() string {
	var b strings.Builder
	for i, a := range e.attrs() {
		switch {
		case i == 0:
			b.WriteString(a.Value.String())
		case a.Key == "message":
			fmt.Fprintf(&b, ": %s", a.Value)
		default:
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
		}
	}
	return b.String()
}

// eventFromC copies the event lent to a callback.
func eventFromC(e *C.sigma_event) Event {
	event := Event{
		Kind:       EventKind(C.sigma_event_get_kind(e)),
		Status:     Status(C.sigma_event_status(e)),
		HTTPStatus: int(C.sigma_event_http_status(e)),
		Attempt:    int(C.sigma_event_attempt(e)),
		Wait:       time.Duration(C.sigma_event_wait_us(e)) * time.Microsecond,
		Duration:   time.Duration(C.sigma_event_duration_us(e)) * time.Microsecond,
		Serial:     uint64(C.sigma_event_serial(e)),
		ExpiresIn:  time.Duration(C.sigma_event_expires_in(e)) * time.Second,
		Background: C.sigma_event_background(e) != 0,
	}
	if grant := C.sigma_event_grant(e); grant != nil {
		event.Grant = C.GoString(grant)
	}
	if id := C.sigma_event_request_id(e); id != nil {
		event.RequestID = C.GoString(id)
	}
	if message := C.sigma_event_message(e); message != nil {
		event.Message = C.GoString(message)
	}
	return event
}

// An eventSink is where the events of one native config go: its Logger and
// OnEvent, reached from C through a cgo.Handle.
//
// Lifetime: the native clients made from a config (and the clients derived
// from them by Impersonate) keep its callback after the config is freed, and
// may run on in the library's threads after their Go Client is closed. So
// the sink is reference-counted by the Go Clients using it (one reference
// each, an impersonated Client included) and, for GetToken and the like, by
// the call or by the table of shared configs. When the last reference goes,
// sigma_event_callback_unregister makes sure no callback with this handle runs
// again (it waits for those running), and only then is the handle deleted.
type eventSink struct {
	handle  cgo.Handle
	logger  *slog.Logger
	onEvent func(Event)
	refs    atomic.Int64
}

// liveEventSinks counts the sinks whose handle is registered (for tests).
var liveEventSinks atomic.Int64

// newEventSink returns a sink holding one reference, or nil when cfg wants
// no events (then no callback is registered at all).
func newEventSink(cfg Config) *eventSink {
	if cfg.Logger == nil && cfg.OnEvent == nil {
		return nil
	}
	s := &eventSink{logger: cfg.Logger, onEvent: cfg.OnEvent}
	s.refs.Store(1)
	s.handle = cgo.NewHandle(s)
	liveEventSinks.Add(1)
	return s
}

// register sends the native config's events to s.
func (s *eventSink) register(native *C.sigma_config) error {
	var cerr *C.sigma_error
	if status := C.sigma_go_set_event_callback(native, C.uintptr_t(s.handle), &cerr); status != C.SIGMA_STATUS_OK {
		return takeError(status, cerr)
	}
	return nil
}

// retain adds a reference, unless the last one is already gone.
func (s *eventSink) retain() bool {
	if s == nil {
		return true
	}
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one unregisters the callback (after
// which none runs) and deletes the handle. Safe on nil.
func (s *eventSink) release() {
	if s == nil || s.refs.Add(-1) != 0 {
		return
	}
	C.sigma_go_unregister(C.uintptr_t(s.handle))
	s.handle.Delete()
	liveEventSinks.Add(-1)
}

// deliverEvent runs on the thread that did the work, a Go one or one of the
// library's. Nothing may unwind into C: a panic loses only its event.
func deliverEvent(handle uintptr, raw *C.sigma_event) {
	if raw == nil {
		return
	}
	s := sinkOf(handle)
	if s == nil {
		return
	}
	event := eventFromC(raw)
	if s.logger != nil {
		func() {
			defer func() { _ = recover() }() // a broken handler: nowhere left to report it
			level := event.Kind.level()
			if ctx := context.Background(); s.logger.Enabled(ctx, level) {
				s.logger.LogAttrs(ctx, level, "sigmaauth: "+event.Kind.String(), event.attrs()...)
			}
		}()
	}
	if s.onEvent != nil {
		defer func() {
			if r := recover(); r != nil && s.logger != nil {
				defer func() { _ = recover() }()
				s.logger.LogAttrs(context.Background(), slog.LevelError, "sigmaauth: OnEvent panicked; the event is lost",
					slog.String("kind", event.Kind.String()), slog.Any("panic", r))
			}
		}()
		s.onEvent(event)
	}
}

// sinkOf returns the sink of a handle, or nil for one already deleted: a
// callback still running when unregistering gave up waiting (after seconds).
func sinkOf(handle uintptr) (s *eventSink) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	s, _ = cgo.Handle(handle).Value().(*eventSink)
	return s
}

// inEventCallback reports whether this thread is running an event callback
// (then so is the calling goroutine, which cgo keeps on it meanwhile).
func inEventCallback() bool { return C.sigma_go_in_event_callback() != 0 }
