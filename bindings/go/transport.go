package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
)

// HTTPClient returns an *http.Client whose requests carry the client's bearer
// token, but only requests to an allowed origin (scheme, host and port): the
// configured Sigma API's, or one in Config.AllowedOrigins. Every other request
// goes out without it, redirect hops included: net/http asks this transport
// for each hop, and the token is only ever set on the transport's own copy of
// a request, so net/http never has it to copy to the next hop. When a request that carried the token is answered 401, the token
// is invalidated and the request sent once more with a fresh one, if the body
// can be replayed (no body, or GetBody set, as http.NewRequest does for
// in-memory bodies; otherwise the caller gets the 401). Waiting for a token
// honours the request's context. base nil means http.DefaultTransport.
func (c *Client) HTTPClient(base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &transport{client: c, base: base}}
}

type transport struct {
	client *Client
	base   http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A closed client sends nothing: not even requests it would not have
	// authenticated (its origin check answers "no" once it is closed).
	if t.client.calls.Load()&1 != 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, ErrClosed
	}
	if !t.client.originAllowed(req.URL) {
		// A Close between the check above and this one makes the origin
		// check answer no: still not a reason to send the request.
		if t.client.calls.Load()&1 != 0 {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, ErrClosed
		}
		return t.base.RoundTrip(req)
	}
	view, err := t.client.current(req.Context())
	if err != nil {
		return nil, err
	}
	first, err := t.send(req, view)
	if err != nil || first.StatusCode != http.StatusUnauthorized {
		return first, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return first, nil // the body is gone: the caller sees the 401
	}
	t.client.invalidateSerial(view.serial)
	fresh, err := t.client.current(req.Context())
	if err != nil {
		return first, nil
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return first, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(first.Body, 64<<10))
	first.Body.Close()
	return t.send(retry, fresh)
}

// send clones the request (a RoundTripper must not modify it) and adds the token.
func (t *transport) send(req *http.Request, view *tokenView) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = req.Body
	out.Header.Set("Authorization", "Bearer "+view.oauth.AccessToken)
	return t.base.RoundTrip(out)
}

// originAllowed asks the library whether a request to u may carry the token,
// with the origin as net/http will connect to it.
func (c *Client) originAllowed(u *url.URL) bool {
	port := 0
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return false
		}
		port = n
	}
	scheme, err := cString("scheme", u.Scheme)
	if err != nil {
		return false
	}
	defer freeString(scheme)
	host, err := cString("host", u.Hostname())
	if err != nil {
		return false
	}
	defer freeString(host)
	if !c.acquire() {
		return false
	}
	allowed := C.sigma_client_origin_allowed(c.native, scheme, host, C.uint16_t(port)) != 0
	c.release()
	runtime.KeepAlive(c)
	return allowed
}
