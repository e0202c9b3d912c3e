package sigmaauth

import (
	"io"
	"net/http"
	"strings"
)

// HTTPClient returns an *http.Client whose requests carry the client's bearer
// token. When the server answers 401 it invalidates that token and sends the
// request once more with a fresh one, if the body can be replayed (no body, or
// GetBody set, as http.NewRequest does for in-memory bodies). base nil means
// http.DefaultTransport.
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
	token, err := t.client.Token()
	if err != nil {
		return nil, err
	}
	first, err := t.send(req, token.AccessToken)
	if err != nil || first.StatusCode != http.StatusUnauthorized {
		return first, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return first, nil // the body is gone: the caller sees the 401
	}
	t.client.Invalidate(token.AccessToken)
	fresh, err := t.client.Token()
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
	return t.send(retry, fresh.AccessToken)
}

// send clones the request (a RoundTripper must not modify it) and adds the token.
func (t *transport) send(req *http.Request, accessToken string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = req.Body
	out.Header.Set("Authorization", "Bearer "+strings.TrimSpace(accessToken))
	return t.base.RoundTrip(out)
}
