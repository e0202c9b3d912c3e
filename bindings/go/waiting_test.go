package sigmaauth_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

func osThreads(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

// Goroutines waiting for a token are parked in Go: 2,000 of them on a cold
// client whose fetch takes a second hold no OS thread each, so a limit of 300
// threads (which kills a program that pins one per waiter) is never near.
func TestTwoThousandWaitingGoroutinesHoldNoThreads(t *testing.T) {
	m := startMock(t, "--token-delay-ms", "1000")
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer debug.SetMaxThreads(debug.SetMaxThreads(300))
	var most atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if n := int64(osThreads(t)); n > most.Load() {
					most.Store(n)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < 2000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if token, err := client.Token(); err != nil || !strings.HasPrefix(token.AccessToken, "mock_at_") {
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if failures.Load() != 0 {
		t.Fatalf("%d goroutines got no token", failures.Load())
	}
	if n := most.Load(); n >= 100 {
		t.Fatalf("%d OS threads while 2,000 goroutines waited", n)
	}
	if n := m.stats(t).TokenRequests; n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}

func TestTokenContextStopsWaitingAtItsDeadlineWhileTheFetchGoesOn(t *testing.T) {
	m := startMock(t)
	m.faults(t, fault("delay", `"ms":2000`))
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err = client.TokenContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want an error wrapping context.DeadlineExceeded, got %v", err)
	}
	if waited := time.Since(started); waited > 600*time.Millisecond {
		t.Fatalf("returned after %v for a 100 ms deadline", waited)
	}
	if _, err := client.Token(); err != nil { // joins the fetch still in flight
		t.Fatal(err)
	}
	if n := m.stats(t).TokenRequests; n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}

func TestHTTPClientHonoursTheRequestsTimeout(t *testing.T) {
	m := startMock(t)
	m.faults(t, fault("delay", `"ms":3000`))
	client, err := sigmaauth.NewClient(cfg(m))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	hc := client.HTTPClient(nil)
	hc.Timeout = 200 * time.Millisecond
	started := time.Now()
	if _, err := hc.Get(m.URL + "/v2/whoami"); err == nil {
		t.Fatal("want a timeout")
	}
	if waited := time.Since(started); waited > time.Second {
		t.Fatalf("a 200 ms client timeout returned after %v", waited)
	}
	req, _ := http.NewRequest("GET", m.URL+"/v2/whoami", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := hc.Do(req.WithContext(ctx)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request context: want context.Canceled, got %v", err)
	}
}

func TestGetTokenReusesOneConnectionPerConfiguration(t *testing.T) {
	sigmaauth.ForgetStatelessConfigs() // the tests before have filled the table of 16
	m := startMock(t)
	c := cfg(m)
	for i := 0; i < 20; i++ {
		if _, err := sigmaauth.GetToken(c); err != nil {
			t.Fatal(err)
		}
	}
	before := m.stats(t) // its own connection comes from the test's HTTP client
	if before.TokenRequests != 20 || before.Connections > 2 {
		t.Fatalf("20 calls with one configuration: %d requests over %d connections", before.TokenRequests, before.Connections)
	}
	// Another secret is another configuration: it never shares the first's.
	other := c
	other.ClientSecret = sigmaauth.NewSecret("wrong")
	if _, err := sigmaauth.GetToken(other); !errors.Is(err, sigmaauth.ErrInvalidClient) {
		t.Fatalf("another secret must not reuse the first config: %v", err)
	}
}
