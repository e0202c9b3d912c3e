package sigmaauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

const secret = "demo-secret"

func cfg(m *mock) sigmaauth.Config {
	return sigmaauth.Config{Endpoint: m.URL, ClientID: "demo-client", ClientSecret: sigmaauth.NewSecret(secret)}
}

func TestGetTokenReturnsABearerToken(t *testing.T) {
	m := startMock(t)
	token, err := sigmaauth.GetToken(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token.AccessToken.Reveal(), "mock_at_") || !strings.HasPrefix(token.RefreshToken.Reveal(), "mock_rt_") {
		t.Fatalf("unexpected token %v", token)
	}
	if token.TokenType != "bearer" || token.ExpiresIn != time.Hour {
		t.Fatalf("type %q, lifetime %v", token.TokenType, token.ExpiresIn)
	}
	if d := time.Until(token.Expiry); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("expiry %v", token.Expiry)
	}
}

func TestRefreshRotatesAndReuseIsInvalidGrant(t *testing.T) {
	m := startMock(t)
	first, err := sigmaauth.GetToken(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	second, err := sigmaauth.RefreshToken(cfg(m), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken.Reveal() == first.RefreshToken.Reveal() {
		t.Fatal("the refresh token did not rotate")
	}
	_, err = sigmaauth.RefreshToken(cfg(m), first.RefreshToken)
	if !errors.Is(err, sigmaauth.ErrInvalidGrant) {
		t.Fatalf("want ErrInvalidGrant, got %v", err)
	}
	var e *sigmaauth.Error
	if !errors.As(err, &e) || e.HTTPStatus != 401 || len(e.RequestID) < 16 {
		t.Fatalf("error details missing: %#v", e)
	}
	if errors.Is(err, sigmaauth.ErrInvalidClient) {
		t.Fatal("a sentinel of another code matched")
	}
}

func TestEveryStatusMapsToItsSentinel(t *testing.T) {
	m := startMock(t)
	cases := []struct {
		name     string
		sentinel error
		fault    string
		tweak    func(*sigmaauth.Config)
	}{
		{"drop", sigmaauth.ErrNetwork, fault("drop"), func(c *sigmaauth.Config) { c.MaxAttempts = 1 }},
		{"slow", sigmaauth.ErrTimeout, fault("delay", `"ms":3000`), func(c *sigmaauth.Config) { c.Timeout = 300 * time.Millisecond }},
		{"429", sigmaauth.ErrRateLimited, fault("status", `"status":429`, `"retry_after":"999999"`), nil},
		{"500", sigmaauth.ErrServer, fault("status", `"status":500`), func(c *sigmaauth.Config) { c.MaxAttempts = 1 }},
		{"404", sigmaauth.ErrHTTP, fault("body", `"status":404`, `"body":"{}"`), nil},
		{"html", sigmaauth.ErrProtocol, fault("html"), nil},
		{"secret", sigmaauth.ErrInvalidClient, "", func(c *sigmaauth.Config) { c.ClientSecret = sigmaauth.NewSecret("wrong") }},
		{"cloud", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.Endpoint = "aws-mars" }},
		{"http", sigmaauth.ErrInsecureURL, "", func(c *sigmaauth.Config) { c.Endpoint = "http://api.sigmacomputing.com" }},
		{"attempts", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.MaxAttempts = 11 }},
		{"attempts-huge", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.MaxAttempts = 1 << 40 }},
		{"attempts-negative", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.MaxAttempts = -1 }},
		{"margin-negative", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.RefreshMargin = -time.Second }},
		{"timeout-negative", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.Timeout = -time.Second }},
		{"ca", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.CAFile = "/nonexistent.pem" }},
		{"nul", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.ClientID = "a\x00b" }},
		{"utf8", sigmaauth.ErrInvalidArgument, "", func(c *sigmaauth.Config) { c.ClientID = "\xff" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != "" {
				m.faults(t, tc.fault)
			}
			c := cfg(m)
			if tc.tweak != nil {
				tc.tweak(&c)
			}
			_, err := sigmaauth.GetToken(c)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("want %v, got %v", tc.sentinel, err)
			}
		})
	}
}

func TestAThousandGoroutinesOnAColdClientCauseOneRequest(t *testing.T) {
	m := startMock(t)
	m.faults(t, fault("delay", `"ms":300`))
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var wg sync.WaitGroup
	tokens := make([]string, 1000)
	start := make(chan struct{})
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			token, err := client.Token()
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = token.AccessToken
		}(i)
	}
	close(start)
	wg.Wait()
	for _, token := range tokens {
		if token != tokens[0] {
			t.Fatal("goroutines got different tokens")
		}
	}
	if s := m.stats(t); s.TokenRequests != 1 {
		t.Fatalf("want 1 upstream request, got %d", s.TokenRequests)
	}
}

func TestHTTPClientRecoversFromAnExpiredTokenWithOneRetry(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	http := client.HTTPClient(nil)
	get := func() int {
		resp, err := http.Get(m.URL + "/v2/whoami")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("whoami %d", code)
	}
	m.expire(t)
	if code := get(); code != 200 {
		t.Fatalf("whoami after expiry %d", code)
	}
	s := m.stats(t)
	if s.WhoamiByStatus["401"] != 1 || s.WhoamiByStatus["200"] != 2 || s.TokenRequests != 2 {
		t.Fatalf("want exactly one retry, got %+v", s)
	}
}

func TestHTTPClientReplaysABodyOnRetry(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Token(); err != nil {
		t.Fatal(err)
	}
	m.expire(t)
	req, _ := http.NewRequest("GET", m.URL+"/v2/whoami", bytes.NewBufferString("payload"))
	resp, err := client.HTTPClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestWorksAsAnOAuth2TokenSource(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var source oauth2.TokenSource = client
	resp, err := oauth2.NewClient(context.Background(), source).Get(m.URL + "/v2/whoami")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "demo-client") {
		t.Fatalf("whoami %d %s", resp.StatusCode, body)
	}
}

func TestInvalidateDropsOnlyTheRejectedToken(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	first, _ := client.Token()
	client.Invalidate("some-other-token")
	if again, _ := client.Token(); again.AccessToken != first.AccessToken {
		t.Fatal("a stale Invalidate dropped the token")
	}
	client.Invalidate(first.AccessToken)
	if fresh, _ := client.Token(); fresh.AccessToken == first.AccessToken {
		t.Fatal("Invalidate did not drop the token")
	}
	if s := m.stats(t); s.TokenRequests != 2 {
		t.Fatalf("want 2 requests, got %d", s.TokenRequests)
	}
}

// Token shares one oauth2.Token between callers (the TokenSource contract
// forbids modifying it); one that modifies it anyway does not affect the others.
func TestACallerModifyingItsTokenDoesNotAffectOthers(t *testing.T) {
	m := startMock(t)
	client, _ := sigmaauth.NewClient(cfg(m))
	defer client.Close()
	a, _ := client.Token()
	want := a.AccessToken
	a.AccessToken = "tampered"
	b, _ := client.Token()
	if b.AccessToken != want {
		t.Fatal("a caller's change reached another caller")
	}
	b.Expiry = b.Expiry.Add(time.Hour)
	if c, _ := client.Token(); c.Expiry.Equal(b.Expiry) || c.AccessToken != want {
		t.Fatal("a caller's change reached another caller")
	}
}

func TestCloseIsIdempotentAndUseAfterCloseIsAnError(t *testing.T) {
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Token(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Token(); !errors.Is(err, sigmaauth.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	client.Invalidate("x")
}

func TestCloseWhileOthersCallIsSafe(t *testing.T) {
	m := startMock(t)
	client, _ := sigmaauth.NewClient(cfg(m))
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, err := client.Token(); err != nil && !errors.Is(err, sigmaauth.ErrClosed) {
					t.Error(err)
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	client.Close()
	wg.Wait()
}

func TestNoSecretOrTokenInAnyFormattedOutput(t *testing.T) {
	m := startMock(t)
	c := cfg(m)
	c.ClientSecret = sigmaauth.NewSecret("S3CRET-VALUE-42")
	_, err := sigmaauth.GetToken(c)
	token, _ := sigmaauth.GetToken(cfg(m))
	outputs := []string{}
	for _, v := range []any{c, &c, err, token, *token} {
		outputs = append(outputs, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprint(v))
	}
	for _, out := range outputs {
		for _, hidden := range []string{"S3CRET-VALUE-42", token.AccessToken.Reveal(), token.RefreshToken.Reveal()} {
			if strings.Contains(out, hidden) {
				t.Fatalf("leaked in %q", out)
			}
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	m := startMock(t)
	t.Setenv("SIGMA_BASE_URL", m.URL)
	t.Setenv("SIGMA_CLIENT_ID", "demo-client")
	t.Setenv("SIGMA_CLIENT_SECRET", "")
	os.Unsetenv("SIGMA_CLIENT_SECRET")
	if _, err := sigmaauth.ConfigFromEnv(); !errors.Is(err, sigmaauth.ErrInvalidArgument) || !strings.Contains(err.Error(), "SIGMA_CLIENT_SECRET") {
		t.Fatalf("want the missing variable named, got %v", err)
	}
	t.Setenv("SIGMA_CLIENT_SECRET", secret)
	t.Setenv("SIGMA_CLIENT_ID", "  demo-client ") // the library trims, as it reads
	cache := t.TempDir()
	t.Setenv("SIGMA_TOKEN_CACHE", cache)
	c, err := sigmaauth.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != m.URL || c.ClientID != "demo-client" || c.TokenCache != cache {
		t.Fatalf("%+v", c)
	}
	if _, err := sigmaauth.GetToken(c); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGMA_BASE_URL", "aws-us-east") // a cloud name becomes its URL
	if c, err := sigmaauth.ConfigFromEnv(); err != nil || c.Endpoint != "https://api.us-a.aws.sigmacomputing.com" {
		t.Fatalf("%v %v", c.Endpoint, err)
	}
}

func TestHTTPSWithTheMocksCA(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	m := startMock(t, "--tls", "--cert-out", ca)
	c := cfg(m)
	c.CAFile = ca
	if _, err := sigmaauth.GetToken(c); err != nil {
		t.Fatal(err)
	}
	c.CAFile = ""
	c.MaxAttempts = 1
	if _, err := sigmaauth.GetToken(c); !errors.Is(err, sigmaauth.ErrNetwork) {
		t.Fatalf("an untrusted certificate must fail as ErrNetwork, got %v", err)
	}
}

func TestClientsShareTokensThroughTheTokenCache(t *testing.T) {
	m := startMock(t)
	c := cfg(m)
	c.TokenCache = filepath.Join(t.TempDir(), "cache")
	first, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	a, err := first.Token()
	if err != nil {
		t.Fatal(err)
	}
	b, err := second.Token()
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessToken != b.AccessToken || m.stats(t).TokenRequests != 1 {
		t.Fatalf("want one shared token, got %d requests", m.stats(t).TokenRequests)
	}
}

func TestAServerEchoingSecretsCannotLeakThemThroughErrors(t *testing.T) {
	m := startMock(t)
	token, err := sigmaauth.GetToken(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	m.faults(t, fault("status", `"status":401`, fmt.Sprintf(`"message":"echo %s %s"`, secret, token.RefreshToken.Reveal())))
	_, err = sigmaauth.RefreshToken(cfg(m), token.RefreshToken)
	if !errors.Is(err, sigmaauth.ErrInvalidGrant) {
		t.Fatalf("want ErrInvalidGrant, got %v", err)
	}
	for _, out := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(out, secret) || strings.Contains(out, token.RefreshToken.Reveal()) {
			t.Fatalf("leaked: %s", out)
		}
	}
}

func rssKiB(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kib int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &kib)
			return kib
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func TestAHundredThousandGetsKeepRSSFlat(t *testing.T) {
	if raceEnabled {
		t.Skip("RSS is not meaningful under the race detector")
	}
	m := startMock(t)
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i := 0; i < 10000; i++ {
		if _, err := client.Token(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	before := rssKiB(t)
	for i := 0; i < 100000; i++ {
		token, err := client.Token()
		if err != nil {
			t.Fatal(err)
		}
		if i%10000 == 0 {
			client.Invalidate(token.AccessToken)
		}
	}
	runtime.GC()
	if grown := rssKiB(t) - before; grown > 8192 {
		t.Fatalf("RSS grew by %d KiB", grown)
	}
}

func TestTheModuleAndTheLibraryHaveOneVersion(t *testing.T) {
	if sigmaauth.Version != sigmaauth.LibraryVersion() {
		t.Fatalf("module %s, library %s", sigmaauth.Version, sigmaauth.LibraryVersion())
	}
}
