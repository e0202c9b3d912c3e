package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Token is an access token as Sigma issued it. Its tokens are Secrets: no text
// form of a Token (fmt, JSON, slog) shows them; use AccessToken.Reveal().
type Token struct {
	AccessToken  Secret
	RefreshToken Secret // zero when the response had none
	TokenType    string
	ExpiresIn    time.Duration // lifetime as issued
	Expiry       time.Time     // wall-clock expiry, for display
	// Serial identifies the token in this process: a newer token has a larger one.
	Serial uint64
}

// String describes the token without revealing it.
func (t Token) String() string {
	refresh := ""
	if !t.RefreshToken.IsZero() {
		refresh = "[redacted]"
	}
	return fmt.Sprintf("sigmaauth.Token{AccessToken: [redacted], RefreshToken: %q, TokenType: %q, ExpiresIn: %s, Expiry: %s, Serial: %d}",
		refresh, t.TokenType, t.ExpiresIn, t.Expiry.UTC().Format(time.RFC3339), t.Serial)
}

// GoString keeps %#v from printing the tokens too.
func (t Token) GoString() string { return t.String() }

// LogValue logs the token's lifetime and serial, never the tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_token", redacted), slog.Duration("expires_in", t.ExpiresIn),
		slog.Time("expiry", t.Expiry), slog.Uint64("serial", t.Serial))
}

func tokenFromC(t *C.sigma_token) *Token {
	token := &Token{
		AccessToken: NewSecret(C.GoString(C.sigma_token_access_token(t))),
		TokenType:   C.GoString(C.sigma_token_type(t)),
		ExpiresIn:   time.Duration(C.sigma_token_expires_in(t)) * time.Second,
		Expiry:      time.Unix(int64(C.sigma_token_expires_at(t)), 0),
		Serial:      uint64(C.sigma_token_serial(t)),
	}
	if refresh := C.sigma_token_refresh_token(t); refresh != nil {
		token.RefreshToken = NewSecret(C.GoString(refresh))
	}
	return token
}

// GetToken requests a new token with the client-credentials grant. No caching:
// use a Client for that. Calls with the same configuration share one
// connection pool (kept for the life of the process, for up to 16 distinct
// configurations; a Config with an OnEvent is never shared), so repeated calls
// reuse a kept-alive connection.
func GetToken(cfg Config) (*Token, error) {
	return request(cfg, func(native *C.sigma_config, out **C.sigma_token, cerr **C.sigma_error) C.sigma_status {
		return C.sigma_token_get(native, out, cerr)
	})
}

// RefreshToken exchanges a refresh token for a new token. Sigma's refresh tokens
// are single use: keep the returned token's RefreshToken for next time.
func RefreshToken(cfg Config, refreshToken Secret) (*Token, error) {
	refresh, err := cString("refreshToken", refreshToken.Reveal())
	if err != nil {
		return nil, err
	}
	defer freeSecret(refresh)
	return request(cfg, func(native *C.sigma_config, out **C.sigma_token, cerr **C.sigma_error) C.sigma_status {
		return C.sigma_token_refresh(native, refresh, out, cerr)
	})
}

// ImpersonateToken returns a token for email (in tenant, if not empty) without
// caching: a new admin token with cfg's credentials (an admin's), then one
// token exchange. Use Client.Impersonate to keep a user's token fresh.
func ImpersonateToken(cfg Config, email, tenant string) (*Token, error) {
	cEmail, cTenant, free, err := userStrings(email, tenant)
	if err != nil {
		return nil, err
	}
	defer free()
	return request(cfg, func(native *C.sigma_config, out **C.sigma_token, cerr **C.sigma_error) C.sigma_status {
		return C.sigma_token_impersonate(native, cEmail, cTenant, out, cerr)
	})
}

// request runs one stateless token call on the shared native config for cfg.
func request(cfg Config, call func(*C.sigma_config, **C.sigma_token, **C.sigma_error) C.sigma_status) (*Token, error) {
	native, done, err := statelessConfig(cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	var t *C.sigma_token
	var cerr *C.sigma_error
	if status := call(native, &t, &cerr); status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}
	defer C.sigma_token_free(t)
	return tokenFromC(t), nil
}

// The native configs of GetToken and RefreshToken, by configuration. A native
// config holds its connection pool; entries are never freed, and the C
// library lets any number of calls share one. A config with a Logger is
// told apart by the Logger's address (a *slog.Logger never changes, and the
// entry keeps its events' handle registered for good); one with an OnEvent
// is never shared, as funcs cannot be compared: a closure's code says nothing
// of what it captured.
var stateless struct {
	sync.Mutex
	configs map[string]sharedConfig
}

type sharedConfig struct {
	native *C.sigma_config
	events *eventSink
}

const maxStatelessConfigs = 16

// statelessConfig returns the shared native config for cfg, and what to call
// when the request is done (freeing it, and releasing its events, when it is
// not shared).
func statelessConfig(cfg Config) (*C.sigma_config, func(), error) {
	if cfg.OnEvent != nil {
		native, events, err := cfg.native()
		if err != nil {
			return nil, nil, err
		}
		return native, func() { C.sigma_config_free(native); events.release() }, nil
	}
	key := cfg.key()
	stateless.Lock()
	defer stateless.Unlock()
	if shared, ok := stateless.configs[key]; ok {
		return shared.native, func() {}, nil
	}
	native, events, err := cfg.native()
	if err != nil {
		return nil, nil, err
	}
	if len(stateless.configs) >= maxStatelessConfigs {
		return native, func() { C.sigma_config_free(native); events.release() }, nil
	}
	if stateless.configs == nil {
		stateless.configs = map[string]sharedConfig{}
	}
	stateless.configs[key] = sharedConfig{native, events}
	return native, func() {}, nil
}

// forgetStatelessConfigs empties the table (for tests, which make more than
// 16 configurations; no stateless call may be running).
func forgetStatelessConfigs() {
	stateless.Lock()
	defer stateless.Unlock()
	for key, shared := range stateless.configs {
		C.sigma_config_free(shared.native)
		shared.events.release()
		delete(stateless.configs, key)
	}
}

// key identifies a configuration without an OnEvent; the secret and the
// token store's URL only by their SHA-256, the Logger by its address.
func (c Config) key() string {
	digest := sha256.Sum256([]byte(c.ClientSecret.Reveal()))
	store := sha256.Sum256([]byte(c.TokenStore.Reveal()))
	return strings.Join([]string{c.Endpoint, c.ClientID, fmt.Sprintf("%x", digest), fmt.Sprintf("%x", store), c.Timeout.String(),
		c.ConnectTimeout.String(), fmt.Sprint(c.MaxAttempts), c.CAFile, fmt.Sprint(c.BasicAuth),
		c.RefreshMargin.String(), c.UserAgentSuffix, c.TokenCache, strings.Join(c.AllowedOrigins, " "),
		fmt.Sprint(c.SubjectTokenClaims), fmt.Sprintf("%p", c.Logger)}, "\x00")
}
