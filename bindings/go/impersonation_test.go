package sigmaauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

func whoamiEmail(t *testing.T, m *mock, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", m.URL+"/v2/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var who struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami: %d %v", resp.StatusCode, err)
	}
	return who.Email
}

func TestImpersonateGetsTheUsersTokenAndSharesTheAdminToken(t *testing.T) {
	m := startMock(t)
	admin, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			user, err := admin.Impersonate(fmt.Sprintf("user%d@example.com", i%4), "")
			if err != nil {
				t.Error(err)
				return
			}
			defer user.Close()
			token, err := user.CurrentToken(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if got := whoamiEmail(t, m, token.AccessToken.Reveal()); got != fmt.Sprintf("user%d@example.com", i%4) {
				t.Errorf("whoami says %s", got)
			}
		}(i)
	}
	wg.Wait()
	if s := m.stats(t); s.ByGrant["client_credentials"] != 1 || s.ByGrant["urn:ietf:params:oauth:grant-type:token-exchange"] != 4 {
		t.Fatalf("want one admin token and one exchange per user: %+v", s.ByGrant)
	}
}

func TestImpersonationRefusalsMapToSentinels(t *testing.T) {
	m := startMock(t, "--admin-user", "boss@example.com", "--user", "known@example.com")
	admin, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	boss, _ := admin.Impersonate("boss@example.com", "")
	if _, err := boss.Token(); !errors.Is(err, sigmaauth.ErrForbidden) {
		t.Fatalf("want ErrForbidden, got %v", err)
	}
	stranger, _ := admin.Impersonate("stranger@example.com", "")
	if _, err := stranger.Token(); !errors.Is(err, sigmaauth.ErrInvalidGrant) {
		t.Fatalf("want ErrInvalidGrant, got %v", err)
	}
	if _, err := admin.Impersonate("not an email", ""); !errors.Is(err, sigmaauth.ErrInvalidArgument) {
		t.Fatalf("want ErrInvalidArgument, got %v", err)
	}
	token, err := sigmaauth.ImpersonateToken(cfg(m), "known@example.com", "tenant-9")
	if err != nil || whoamiEmail(t, m, token.AccessToken.Reveal()) != "known@example.com" {
		t.Fatalf("one-shot: %v", err)
	}
}

func TestSignEmbedURLIsValidForTheMock(t *testing.T) {
	m := startMock(t)
	signed, err := sigmaauth.SignEmbedURL("https://app.sigmacomputing.com/o/workbook/w-1", "demo-embed",
		sigmaauth.NewSecret("demo-embed-secret"), map[string]any{"sub": "viewer@example.com", "teams": []string{"Sales"}},
		10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(signed, "&:embed=true") || !strings.Contains(signed, "?:jwt=") {
		t.Fatalf("unexpected URL %s", signed)
	}
	resp, err := http.Get(m.URL + "/__mock/embed/verify?url=" + url.QueryEscape(signed))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var verdict struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&verdict); err != nil || !verdict.Valid {
		t.Fatalf("the mock refused the URL: %v %v", err, verdict.Problems)
	}
	_, err = sigmaauth.SignEmbedURL("https://app.sigmacomputing.com/o/w", "demo-embed",
		sigmaauth.NewSecret("S3CRET-EMBED"), map[string]any{"sub": "v@example.com", "teams": "Sales"}, time.Minute)
	if !errors.Is(err, sigmaauth.ErrInvalidArgument) || !strings.Contains(err.Error(), "teams") ||
		strings.Contains(fmt.Sprintf("%+v %#v", err, err), "S3CRET-EMBED") {
		t.Fatalf("a bad claim must be ErrInvalidArgument naming it, without the secret: %v", err)
	}
	// The library's range for the lifetime, and its message.
	for _, ttl := range []time.Duration{0, -time.Hour, 31 * 24 * time.Hour, 1 << 62} {
		_, err = sigmaauth.SignEmbedURL("https://app.sigmacomputing.com/o/w", "demo-embed",
			sigmaauth.NewSecret("S3CRET-EMBED"), map[string]any{"sub": "v@example.com"}, ttl)
		if !errors.Is(err, sigmaauth.ErrInvalidArgument) {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
	}
}

func TestAUsersClientOutlivesItsAdminsClient(t *testing.T) {
	m := startMock(t)
	admin, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := admin.Impersonate("viewer@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	first, err := viewer.CurrentToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	viewer.Invalidate(first.AccessToken.Reveal())
	second, err := viewer.CurrentToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.Serial == first.Serial || whoamiEmail(t, m, second.AccessToken.Reveal()) != "viewer@example.com" {
		t.Fatalf("want a new token for the viewer, got serial %d after %d", second.Serial, first.Serial)
	}
	if s := m.stats(t); s.ByGrant["client_credentials"] != 1 {
		t.Fatalf("the admin token is still shared: %+v", s.ByGrant)
	}
}
