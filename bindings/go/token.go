package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"fmt"
	"time"
)

// Token is an access token as Sigma issued it. fmt never prints the tokens.
type Token struct {
	AccessToken  string
	RefreshToken string // empty when the response had none
	TokenType    string
	ExpiresIn    time.Duration // lifetime as issued
	Expiry       time.Time     // wall-clock expiry, for display
	// Serial identifies the token in this process: a newer token has a larger one.
	Serial uint64
}

// String describes the token without revealing it.
func (t Token) String() string {
	refresh := ""
	if t.RefreshToken != "" {
		refresh = "[redacted]"
	}
	return fmt.Sprintf("sigmaauth.Token{AccessToken: [redacted], RefreshToken: %q, TokenType: %q, ExpiresIn: %s, Expiry: %s, Serial: %d}",
		refresh, t.TokenType, t.ExpiresIn, t.Expiry.UTC().Format(time.RFC3339), t.Serial)
}

// GoString keeps %#v from printing the tokens too.
func (t Token) GoString() string { return t.String() }

func tokenFromC(t *C.sigma_token) *Token {
	token := &Token{
		AccessToken: C.GoString(C.sigma_token_access_token(t)),
		TokenType:   C.GoString(C.sigma_token_type(t)),
		ExpiresIn:   time.Duration(C.sigma_token_expires_in(t)) * time.Second,
		Expiry:      time.Unix(int64(C.sigma_token_expires_at(t)), 0),
		Serial:      uint64(C.sigma_token_serial(t)),
	}
	if refresh := C.sigma_token_refresh_token(t); refresh != nil {
		token.RefreshToken = C.GoString(refresh)
	}
	return token
}

// GetToken requests a new token with the client-credentials grant. No caching:
// use a Client for that.
func GetToken(cfg Config) (*Token, error) {
	return request(cfg, func(native *C.sigma_config, out **C.sigma_token, cerr **C.sigma_error) C.sigma_status {
		return C.sigma_token_get(native, out, cerr)
	})
}

// RefreshToken exchanges a refresh token for a new token. Sigma's refresh tokens
// are single use: keep the returned token's RefreshToken for next time.
func RefreshToken(cfg Config, refreshToken string) (*Token, error) {
	refresh, err := cString("refreshToken", refreshToken)
	if err != nil {
		return nil, err
	}
	defer freeSecret(refresh)
	return request(cfg, func(native *C.sigma_config, out **C.sigma_token, cerr **C.sigma_error) C.sigma_status {
		return C.sigma_token_refresh(native, refresh, out, cerr)
	})
}

// request runs one stateless token call on a native copy of cfg.
func request(cfg Config, call func(*C.sigma_config, **C.sigma_token, **C.sigma_error) C.sigma_status) (*Token, error) {
	native, err := cfg.native()
	if err != nil {
		return nil, err
	}
	defer C.sigma_config_free(native)
	var t *C.sigma_token
	var cerr *C.sigma_error
	if status := call(native, &t, &cerr); status != C.SIGMA_STATUS_OK {
		return nil, takeError(status, cerr)
	}
	defer C.sigma_token_free(t)
	return tokenFromC(t), nil
}
