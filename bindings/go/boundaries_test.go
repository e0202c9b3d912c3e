package sigmaauth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

// reveals reports whether text gives secret away raw, URL-decoded (once or
// twice) or inside base64 (either alphabet, any alignment): an oracle written
// independently of the library's scrubber.
func reveals(text, secret string) bool {
	unquote := func(s string) string {
		if u, err := url.QueryUnescape(s); err == nil {
			return u
		}
		return s
	}
	candidates := []string{text, unquote(text), unquote(unquote(text))}
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/_=-]{8,}`).FindAllString(text, -1) {
		run = strings.TrimRight(run, "=")
		for skip := 0; skip < 4 && skip < len(run); skip++ {
			part := run[skip:]
			if len(part)%4 == 1 {
				part = part[:len(part)-1]
			}
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if plain, err := enc.DecodeString(part); err == nil {
					candidates = append(candidates, string(plain), unquote(string(plain)))
				}
			}
		}
	}
	for _, c := range candidates {
		if strings.Contains(c, secret) {
			return true
		}
	}
	return false
}

const echoID, echoSecret = "cid1", "Xy9/kQ+zR=s3cr3t&a b"

// everyText renders v in every way a program might print or log it.
func everyText(v any) []string {
	out := []string{fmt.Sprint(v), fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v),
		fmt.Sprintf("%s", v), fmt.Sprintf("%q", v), fmt.Sprintf("%x", v)}
	if data, err := json.Marshal(v); err == nil {
		out = append(out, string(data))
	}
	for _, handler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(handler(&buf)).Info("event", "value", v)
		out = append(out, buf.String())
	}
	return out
}

func TestAServerEchoingTheSecretInAnyFieldAndEncodingNeverGetsItIntoAnError(t *testing.T) {
	m := startMock(t, "--client-id", echoID, "--client-secret", echoSecret)
	for _, basic := range []bool{false, true} {
		c := sigmaauth.Config{Endpoint: m.URL, ClientID: echoID, ClientSecret: sigmaauth.NewSecret(echoSecret),
			BasicAuth: basic, MaxAttempts: 1}
		for _, field := range []string{"message", "requestId", "code", "error_description"} {
			for _, what := range []string{"secret", "body", "authorization"} {
				for _, encoding := range []string{"raw", "form", "percent", "base64", "base64url", "base64nopad"} {
					m.faults(t, fault("echo", fmt.Sprintf(`"field":%q,"what":%q,"encoding":%q`, field, what, encoding)))
					_, err := sigmaauth.GetToken(c)
					var e *sigmaauth.Error
					if !errors.As(err, &e) || !errors.Is(err, sigmaauth.ErrInvalidClient) {
						t.Fatalf("want ErrInvalidClient, got %v", err)
					}
					for _, text := range append(everyText(err), e.Message, e.RequestID) {
						if reveals(text, echoSecret) {
							t.Fatalf("basic=%v %s %s %s leaked: %s", basic, field, what, encoding, text)
						}
					}
				}
			}
		}
	}
}

type holder struct {
	cfg   sigmaauth.Config
	token sigmaauth.Token
}

func TestConfigSecretAndTokensNeverPrintInAnyForm(t *testing.T) {
	m := startMock(t)
	c := cfg(m)
	token, err := sigmaauth.GetToken(c)
	if err != nil {
		t.Fatal(err)
	}
	hidden := []string{secret, token.AccessToken.Reveal(), token.RefreshToken.Reveal()}
	values := []any{c, &c, *token, token, token.AccessToken, holder{c, *token}, &holder{c, *token},
		[]sigmaauth.Config{c}, map[string]any{"config": c, "token": token}}
	for _, v := range values {
		for _, text := range everyText(v) {
			for _, h := range hidden {
				if strings.Contains(text, h) {
					t.Fatalf("%T leaked in %q", v, text)
				}
			}
		}
	}
}

// The token store's URL may hold a password: a bad URL is refused without
// repeating it, and no text form of a Config, bare or inside a struct's
// unexported field (where fmt calls no method), shows it.
func TestATokenStoreURLIsCheckedAndItsPasswordNeverShown(t *testing.T) {
	m := startMock(t)
	c := cfg(m)
	c.TokenStore = sigmaauth.NewSecret("redis://u:hunter2@127.0.0.1:1/2")
	client, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatalf("a good URL: %v", err)
	}
	client.Close()
	for _, v := range []any{c, &c, holder{cfg: c}, &holder{cfg: c}, []sigmaauth.Config{c}} {
		for _, text := range everyText(v) {
			if strings.Contains(text, "hunter2") {
				t.Fatalf("%T leaked in %q", v, text)
			}
		}
	}
	for _, bad := range []string{"http://u:hunter2@h", "redis://u:hunter2@h/notadb", "redis://:hunter2@h?insecure"} {
		c.TokenStore = sigmaauth.NewSecret(bad)
		_, err := sigmaauth.GetToken(c)
		var e *sigmaauth.Error
		if !errors.As(err, &e) || !errors.Is(err, sigmaauth.ErrInvalidArgument) || !strings.Contains(e.Message, "token store URL") {
			t.Fatalf("%q: want ErrInvalidArgument about the token store URL, got %v", bad, err)
		}
		for _, text := range append(everyText(err), e.Message) {
			if strings.Contains(text, "hunter2") {
				t.Fatalf("%q: the error shows the password: %q", bad, text)
			}
		}
	}
	if m.stats(t).TokenRequests != 0 {
		t.Fatal("a config refused before any request")
	}
}

func TestConfigFromEnvTakesTheTokenStore(t *testing.T) {
	m := startMock(t)
	t.Setenv("SIGMA_BASE_URL", m.URL)
	t.Setenv("SIGMA_CLIENT_ID", "demo-client")
	t.Setenv("SIGMA_CLIENT_SECRET", secret)
	t.Setenv("SIGMA_TOKEN_STORE", "ftp://u:hunter2@h")
	if _, err := sigmaauth.ConfigFromEnv(); !errors.Is(err, sigmaauth.ErrInvalidArgument) ||
		strings.Contains(fmt.Sprintf("%v %+v", err, err), "hunter2") {
		t.Fatalf("want ErrInvalidArgument without the password, got %v", err)
	}
	t.Setenv("SIGMA_TOKEN_STORE", " redis://u:hunter2@127.0.0.1:1 ") // the library trims, as it reads
	c, err := sigmaauth.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenStore.Reveal() != "redis://u:hunter2@127.0.0.1:1" {
		t.Fatalf("TokenStore %q", c.TokenStore.Reveal())
	}
	if text := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(text, "hunter2") {
		t.Fatalf("the config shows the password: %s", text)
	}
}

// hosts are the API on 127.0.0.1 and two other origins: another host, and the
// same host on another port (where net/http itself copies Authorization).
func otherOrigins(t *testing.T) (*mock, []*mock) {
	return startMock(t), []*mock{startMock(t, "--host", "127.0.0.2"), startMock(t)}
}

func assertNeverSawAToken(t *testing.T, other *mock, token string) {
	t.Helper()
	for _, seen := range other.stats(t).RecentAPIRequests {
		for _, header := range seen.Headers {
			if strings.EqualFold(header[0], "authorization") || strings.Contains(header[1], token) {
				t.Fatalf("%s saw %s: %s", other.URL, header[0], header[1])
			}
		}
	}
}

func TestHTTPClientNeverSendsTheTokenToAnotherOrigin(t *testing.T) {
	api, others := otherOrigins(t)
	client, err := sigmaauth.NewClient(cfg(api))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	hc := client.HTTPClient(nil)
	for _, other := range others {
		for _, status := range []int{302, 307, 308} {
			for _, target := range []string{"/v2/echo", "/v2/echo?status=401"} {
				u := fmt.Sprintf("%s/v2/redirect?status=%d&location=%s", api.URL, status, url.QueryEscape(other.URL+target))
				resp, err := hc.Post(u, "text/plain", strings.NewReader("payload"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if want := map[bool]int{true: 401, false: 200}[strings.Contains(target, "401")]; resp.StatusCode != want {
					t.Fatalf("%s %d %s: status %d", other.URL, status, target, resp.StatusCode)
				}
			}
		}
		resp, err := hc.Get(other.URL + "/v2/echo") // straight to the other origin
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		token, _ := client.Token()
		assertNeverSawAToken(t, other, token.AccessToken)
	}
	if n := api.stats(t).TokenRequests; n != 1 {
		t.Fatalf("a 401 from another origin caused %d token requests", n)
	}
}

func TestAllowedOriginsGetTheToken(t *testing.T) {
	api, others := otherOrigins(t)
	c := cfg(api)
	c.AllowedOrigins = []string{others[0].URL}
	client, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.HTTPClient(nil).Get(others[0].URL + "/v2/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	token, _ := client.Token()
	if seen := others[0].stats(t).RecentAPIRequests; len(seen) != 1 || !strings.Contains(fmt.Sprint(seen[0].Headers), token.AccessToken) {
		t.Fatal("an allowed origin did not get the token")
	}
	c.AllowedOrigins = []string{"http://example.com"}
	if _, err := sigmaauth.NewClient(c); !errors.Is(err, sigmaauth.ErrInsecureURL) {
		t.Fatalf("want ErrInsecureURL, got %v", err)
	}
}

func TestARequestThatCarriedTheTokenIsRetriedOnceOnA401(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.HTTPClient(nil).Get(m.URL + "/v2/echo?status=401")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(m.stats(t).RecentAPIRequests) != 2 || m.stats(t).TokenRequests != 2 {
		t.Fatalf("want one retry then the 401: %d, %+v", resp.StatusCode, m.stats(t))
	}
}

// After Close, the HTTP client fails with ErrClosed and sends nothing at all,
// whatever the origin (it used to send the request without a token).
func TestHTTPClientAfterCloseFailsWithErrClosedAndSendsNothing(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	hc := client.HTTPClient(nil)
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer other.Close()
	client.Close()
	for _, url := range []string{m.URL + "/v2/whoami", other.URL + "/anything"} {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: a closed client's HTTP client sent the request", url)
		}
		if !errors.Is(err, sigmaauth.ErrClosed) {
			t.Fatalf("%s: %v", url, err)
		}
	}
	if hits.Load() != 0 || len(m.stats(t).RecentAPIRequests) != 0 {
		t.Fatal("something reached a server")
	}
	if _, err := client.Token(); !errors.Is(err, sigmaauth.ErrClosed) {
		t.Fatalf("Token after Close: %v", err)
	}
}

// startRedis runs a real redis-server (Debian's package) on loopback for the
// token store, stopped when the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	server := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	if err := server.Start(); err != nil {
		t.Fatalf("redis-server (apt-get install redis-server): %v", err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if conn, err := net.Dial("tcp", address); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + address + "/0"
}

func TestClientsShareTokensThroughTheTokenStore(t *testing.T) {
	m := startMock(t)
	store := startRedis(t)
	token := func(withStore bool) string {
		c := cfg(m)
		if withStore {
			c.TokenStore = sigmaauth.NewSecret(store)
		}
		client, err := sigmaauth.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		tok, err := client.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	// Two clients share nothing in memory: only the store.
	if token(true) != token(true) {
		t.Fatal("the second client did not get the first one's token from the store")
	}
	if got := m.stats(t).ByGrant["client_credentials"]; got != 1 {
		t.Fatalf("%d grants, want 1", got)
	}
	token(false)
	if got := m.stats(t).ByGrant["client_credentials"]; got != 2 {
		t.Fatalf("%d grants, want 2 (without the store, a client fetches)", got)
	}
}
