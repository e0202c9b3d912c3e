package sigmaauth_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

// A person signs in (the browser's visit follows the redirects back to the
// loopback listener), then a Config for the profile gets tokens the API and
// Sigma's MCP server accept; after Logout the profile is gone.
func TestLoginThenConfigFromLoginGetsAPersonsToken(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SIGMA_KEYRING", "file")
	m := startMock(t)
	m.post(t, "/__mock/signin", `{"auto_approve": "gopher@example.com"}`)
	browse := func(url string) error {
		go func() {
			resp, err := http.Get(url)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	if err := sigmaauth.Login(m.URL, "go", "api:access mcp:access", 20*time.Second, browse); err != nil {
		t.Fatal(err)
	}
	cfg, err := sigmaauth.ConfigFromLogin("go")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != m.URL || cfg.Profile != "go" {
		t.Fatalf("%+v", cfg)
	}
	client, err := sigmaauth.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	token, err := client.Token()
	if err != nil {
		t.Fatal(err)
	}
	if token.RefreshToken != "" {
		t.Fatal("the rotating refresh token stays in the store")
	}
	for _, path := range []string{"/v2/whoami", "/mcp/v2"} {
		req, _ := http.NewRequest("GET", m.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	if err := sigmaauth.Logout("go"); err != nil {
		t.Fatal(err)
	}
	if _, err := sigmaauth.ConfigFromLogin("go"); !errors.Is(err, sigmaauth.ErrLoginRequired) {
		t.Fatalf("after logout: %v", err)
	}
}

func TestAHostWithoutASignInIsLoginUnavailableAndAProfileTakesNoSecret(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SIGMA_KEYRING", "file")
	m := startMock(t)
	m.post(t, "/__mock/signin", `{"enabled": false}`)
	_, err := sigmaauth.BeginLogin(m.URL, "", "", 0)
	if !errors.Is(err, sigmaauth.ErrLoginUnavailable) || !strings.Contains(err.Error(), "offers no browser sign-in") {
		t.Fatalf("%v", err)
	}
	_, err = sigmaauth.NewClient(sigmaauth.Config{Profile: "x", ClientSecret: sigmaauth.NewSecret(secret)})
	if !errors.Is(err, sigmaauth.ErrInvalidArgument) || strings.Contains(err.Error(), secret) {
		t.Fatalf("%v", err)
	}
}
