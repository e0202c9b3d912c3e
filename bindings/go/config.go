package sigmaauth

/*
#include "sigma_auth.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// Config says where tokens come from and how patiently to ask. Zero values mean
// the library's defaults (30 s deadline, 10 s connect, 3 attempts, form auth,
// bundled web roots). No text form of a Config (fmt, JSON, slog) shows the
// secret: it is a Secret.
type Config struct {
	// Endpoint is a cloud name ("aws-us-east") or an https base URL (http only
	// for loopback hosts).
	Endpoint        string
	ClientID        string
	ClientSecret    Secret
	Timeout         time.Duration // overall deadline of one token call, retries included
	ConnectTimeout  time.Duration
	MaxAttempts     int    // 1 to 10
	CAFile          string // trust only the CA certificates in this PEM file
	BasicAuth       bool   // send the credentials as HTTP Basic instead of in the form
	RefreshMargin   time.Duration
	UserAgentSuffix string
	// TokenCache is a directory through which processes share tokens (one
	// refresh at a time across processes); empty means off.
	TokenCache string
	// TokenStore is a Redis URL, redis://[user:password@]host[:port][/db] or
	// rediss:// for TLS, through which hosts share tokens; zero means off.
	// Redis down or slow never fails a call: it goes on without the store (an
	// EventStoreUnavailable says why). A Secret, because the URL may hold a
	// password: no text form of it shows the URL, and no error repeats it.
	TokenStore Secret
	// AllowedOrigins lists origins ("https://host[:port]") besides the
	// endpoint's own to which HTTPClient may send tokens, such as a gateway in
	// front of Sigma. Every other request, redirect hops included, gets none.
	AllowedOrigins []string
	// Profile, when set, makes tokens come from the person's sign-in stored
	// under that name (by Login or sigma-token login) instead of client
	// credentials: ClientID and ClientSecret stay empty, and Endpoint is the
	// profile's (ConfigFromLogin fills it in). Clients refresh through the
	// stored sign-in, shared by every process, and never hand out its
	// refresh token.
	Profile string
	// SubjectTokenClaims are added to the subject token of Impersonate, e.g.
	// {"aud": "sigmacomputing"}. Sigma's sample sends only sub (and tenant).
	SubjectTokenClaims map[string]any

	// Logger, if not nil, logs the library's events (see Event): at Debug
	// the routine ones (REFRESH_STARTED, TOKEN_OBTAINED, INVALIDATED,
	// CACHE_HIT, STORE_HIT), at Warn failures, retries, fallbacks, cache
	// bypasses and an unavailable token store, each with its fields as
	// attributes (kind, grant, serial, status, ...).
	Logger *slog.Logger `json:"-"`
	// OnEvent, if not nil, is called with each event of the clients made from
	// this config (Impersonate's included), and of GetToken, RefreshToken and
	// ImpersonateToken with it. It is called synchronously once the request
	// has settled, with no lock held, on the goroutine or thread that did the
	// work (possibly one of the library's background threads): it may call
	// this package, even Token on the same client, but must not block for
	// long, nor wait for another goroutine that calls the library, nor call
	// runtime.Goexit (t.FailNow). A panic in it is recovered, loses the event,
	// and is logged to Logger at Error. No event is delivered after Close
	// of the last Client made from the config (and derived from those) returns.
	// A Client that its own OnEvent refers to is only released by Close, not
	// by the garbage collector.
	//
	// With neither Logger nor OnEvent, no callback is registered at all.
	OnEvent func(Event) `json:"-"`
}

// ConfigFromEnv reads SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
// SIGMA_CLIENT_SECRET, and SIGMA_TOKEN_CACHE and SIGMA_TOKEN_STORE if set. A missing one is an
// ErrInvalidArgument naming it. The library reads and checks them; Endpoint
// is the API base URL it resolved (a cloud name becomes its URL). The secret
// and the token store's URL, which never come back out of the library, are
// the ones Go reads, with the same trimming.
func ConfigFromEnv() (Config, error) {
	var native *C.sigma_config
	var cerr *C.sigma_error
	if status := C.sigma_config_from_env(&native, &cerr); status != C.SIGMA_STATUS_OK {
		return Config{}, takeError(status, cerr)
	}
	defer C.sigma_config_free(native)
	return Config{
		Endpoint:     takeString(C.sigma_config_base_url(native)),
		ClientID:     takeString(C.sigma_config_client_id(native)),
		ClientSecret: NewSecret(strings.TrimSpace(os.Getenv("SIGMA_CLIENT_SECRET"))),
		TokenCache:   takeString(C.sigma_config_token_cache(native)),
		TokenStore:   NewSecret(strings.TrimSpace(os.Getenv("SIGMA_TOKEN_STORE"))),
	}, nil
}

// ConfigFromLogin is a Config for the person's sign-in stored under profile
// ("default" when empty), with Endpoint set to the profile's API base URL. An
// ErrLoginRequired when there is none.
func ConfigFromLogin(profile string) (Config, error) {
	if profile == "" {
		profile = "default"
	}
	c := Config{Profile: profile}
	native, _, err := c.nativeFromLogin()
	if err != nil {
		return Config{}, err
	}
	defer C.sigma_config_free(native)
	c.Endpoint = takeString(C.sigma_config_base_url(native))
	return c, nil
}

// String describes the config without its secret.
func (c Config) String() string {
	if c.Profile != "" {
		return fmt.Sprintf("sigmaauth.Config{Endpoint: %q, Profile: %q}", c.Endpoint, c.Profile)
	}
	return fmt.Sprintf("sigmaauth.Config{Endpoint: %q, ClientID: %q, ClientSecret: [redacted]}", c.Endpoint, c.ClientID)
}

// GoString keeps %#v from printing the secret too.
func (c Config) GoString() string { return c.String() }

// LogValue logs the config as a group, without its secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", c.Endpoint), slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted), slog.String("token_cache", c.TokenCache),
		slog.String("token_store", shownIfSet(c.TokenStore)), slog.String("profile", c.Profile))
}

// shownIfSet is "[redacted]" for a secret that is set, else empty.
func shownIfSet(s Secret) string {
	if s.IsZero() {
		return ""
	}
	return redacted
}

// MarshalJSON encodes the config with its secret redacted.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // the same fields, without this method
	return json.Marshal(plain(c))
}

// native builds the C config, which the caller frees with
// C.sigma_config_free, and the sink of its events (nil when it has none), of
// which the caller owns one reference.
func (c Config) native() (*C.sigma_config, *eventSink, error) {
	if c.Profile != "" {
		return c.nativeFromLogin()
	}
	endpoint, err := cString("Endpoint", c.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	defer freeString(endpoint)
	id, err := cString("ClientID", c.ClientID)
	if err != nil {
		return nil, nil, err
	}
	defer freeString(id)
	secret, err := cString("ClientSecret", c.ClientSecret.Reveal())
	if err != nil {
		return nil, nil, err
	}
	defer freeSecret(secret)

	var native *C.sigma_config
	var cerr *C.sigma_error
	if status := C.sigma_config_new(endpoint, id, secret, &native, &cerr); status != C.SIGMA_STATUS_OK {
		return nil, nil, takeError(status, cerr)
	}
	return c.finish(native)
}

// nativeFromLogin is native for a person's sign-in (Profile).
func (c Config) nativeFromLogin() (*C.sigma_config, *eventSink, error) {
	if c.ClientID != "" || c.ClientSecret.Reveal() != "" {
		return nil, nil, &Error{Code: StatusInvalidArgument,
			Message: "a Config with a Profile is a person's sign-in: it takes no ClientID or ClientSecret"}
	}
	profile, err := cString("Profile", c.Profile)
	if err != nil {
		return nil, nil, err
	}
	defer freeString(profile)
	var native *C.sigma_config
	var cerr *C.sigma_error
	if status := C.sigma_config_from_login(profile, &native, &cerr); status != C.SIGMA_STATUS_OK {
		return nil, nil, takeError(status, cerr)
	}
	return c.finish(native)
}

// finish applies the settings and registers the events of a new native config.
func (c Config) finish(native *C.sigma_config) (*C.sigma_config, *eventSink, error) {
	if err := c.apply(native); err != nil {
		C.sigma_config_free(native)
		return nil, nil, err
	}
	events := newEventSink(c)
	if events != nil {
		if err := events.register(native); err != nil {
			C.sigma_config_free(native)
			events.release()
			return nil, nil, err
		}
	}
	return native, events, nil
}

func (c Config) apply(native *C.sigma_config) error {
	var cerr *C.sigma_error
	check := func(status C.sigma_status) error {
		if status != C.SIGMA_STATUS_OK {
			return takeError(status, cerr)
		}
		return nil
	}
	// setText applies a string setting, skipped when empty.
	setText := func(name, value string, set func(*C.char) C.sigma_status) error {
		if value == "" {
			return nil
		}
		text, err := cString(name, value)
		if err != nil {
			return err
		}
		defer freeString(text)
		return check(set(text))
	}
	language := "go/" + strings.TrimPrefix(runtime.Version(), "go")
	if err := setText("language", language, func(v *C.char) C.sigma_status {
		return C.sigma_config_set_language(native, v, &cerr)
	}); err != nil {
		return err
	}
	if c.Timeout != 0 {
		if err := check(C.sigma_config_set_timeout_ms(native, millis(c.Timeout), &cerr)); err != nil {
			return err
		}
	}
	if c.ConnectTimeout != 0 {
		if err := check(C.sigma_config_set_connect_timeout_ms(native, millis(c.ConnectTimeout), &cerr)); err != nil {
			return err
		}
	}
	if c.MaxAttempts != 0 {
		// Beyond what C's uint32_t holds: clamped, and refused by the library
		// with its own message (the range rules live there only).
		attempts := min(max(c.MaxAttempts, 0), math.MaxUint32)
		if err := check(C.sigma_config_set_max_attempts(native, C.uint32_t(attempts), &cerr)); err != nil {
			return err
		}
	}
	if err := setText("CAFile", c.CAFile, func(v *C.char) C.sigma_status {
		return C.sigma_config_set_ca_file(native, v, &cerr)
	}); err != nil {
		return err
	}
	if c.BasicAuth {
		if err := check(C.sigma_config_set_basic_auth(native, 1, &cerr)); err != nil {
			return err
		}
	}
	if c.RefreshMargin != 0 {
		if err := check(C.sigma_config_set_refresh_margin_ms(native, millis(c.RefreshMargin), &cerr)); err != nil {
			return err
		}
	}
	if err := setText("TokenCache", c.TokenCache, func(v *C.char) C.sigma_status {
		return C.sigma_config_set_token_cache(native, v, &cerr)
	}); err != nil {
		return err
	}
	if !c.TokenStore.IsZero() {
		store, err := cString("TokenStore", c.TokenStore.Reveal())
		if err != nil {
			return err
		}
		defer freeSecret(store)
		if err := check(C.sigma_config_set_token_store(native, store, &cerr)); err != nil {
			return err
		}
	}
	if len(c.SubjectTokenClaims) > 0 {
		claims, err := json.Marshal(c.SubjectTokenClaims)
		if err != nil {
			return &Error{Code: StatusInvalidArgument, Message: "INVALID_ARGUMENT: SubjectTokenClaims: " + err.Error()}
		}
		if err := setText("SubjectTokenClaims", string(claims), func(v *C.char) C.sigma_status {
			return C.sigma_config_set_subject_token_claims(native, v, &cerr)
		}); err != nil {
			return err
		}
	}
	for _, origin := range c.AllowedOrigins {
		if err := setText("AllowedOrigins", origin, func(v *C.char) C.sigma_status {
			return C.sigma_config_allow_origin(native, v, &cerr)
		}); err != nil {
			return err
		}
	}
	return setText("UserAgentSuffix", c.UserAgentSuffix, func(v *C.char) C.sigma_status {
		return C.sigma_config_set_user_agent_suffix(native, v, &cerr)
	})
}

// millis converts a duration for C; a negative one becomes 0, which the library
// refuses with a clear message.
// millis converts a duration for the library; a negative one becomes the
// largest value, which the library refuses with its own message.
func millis(d time.Duration) C.uint64_t {
	if d < 0 {
		return C.uint64_t(math.MaxUint64)
	}
	return C.uint64_t(d / time.Millisecond)
}
