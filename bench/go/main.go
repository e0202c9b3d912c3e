// Command bench measures sigmaauth and golang.org/x/oauth2/clientcredentials
// against sigma-mock and prints one JSON object per run. Timing only.
//
//	bench -mode cached  -impl sigma|oauth2 -url URL -goroutines N -calls M
//	bench -mode refresh -impl sigma|oauth2 -url URL -goroutines N -seconds S
//	bench -mode fresh   -impl sigma|sigma-client|oauth2 -url URL -tokens N
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

func main() {
	mode := flag.String("mode", "cached", "cached, refresh or fresh")
	impl := flag.String("impl", "sigma", "sigma, oauth2 or baseline (refresh: no library at all)")
	url := flag.String("url", "", "mock base URL")
	goroutines := flag.Int("goroutines", 1, "concurrent callers")
	calls := flag.Int("calls", 100000, "calls per goroutine (cached)")
	seconds := flag.Float64("seconds", 12, "run time (refresh)")
	tokens := flag.Int("tokens", 1000, "tokens to fetch (fresh)")
	flag.Parse()

	var result map[string]any
	switch *mode {
	case "cached":
		result = cached(source(*impl, *url), *goroutines, *calls)
	case "refresh":
		result = refresh(source(*impl, *url), *goroutines, time.Duration(*seconds*float64(time.Second)))
	case "fresh":
		result = fresh(*impl, *url, *tokens)
	default:
		fail(fmt.Errorf("unknown mode %q", *mode))
	}
	result["suite"], result["lang"], result["impl"] = *mode, "go", *impl
	_ = json.NewEncoder(os.Stdout).Encode(result)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func credentials(url string) clientcredentials.Config {
	return clientcredentials.Config{ClientID: "demo-client", ClientSecret: "demo-secret",
		TokenURL: url + "/v2/auth/token", AuthStyle: oauth2.AuthStyleInParams}
}

func source(impl, url string) oauth2.TokenSource {
	if impl == "baseline" {
		// The same loop around a call that does nothing: the machine's own noise.
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "static"})
	}
	if impl == "oauth2" {
		cc := credentials(url)
		return cc.TokenSource(context.Background()) // a ReuseTokenSource
	}
	client, err := sigmaauth.NewClient(sigmaauth.Config{Endpoint: url, ClientID: "demo-client", ClientSecret: sigmaauth.NewSecret("demo-secret")})
	if err != nil {
		fail(err)
	}
	return client
}

func cached(src oauth2.TokenSource, goroutines, calls int) map[string]any {
	if _, err := src.Token(); err != nil {
		fail(err)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				if _, err := src.Token(); err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return map[string]any{"goroutines": goroutines, "calls": calls * goroutines,
		"ns_per_call":   float64(elapsed.Nanoseconds()) / float64(calls),
		"calls_per_sec": float64(calls*goroutines) / elapsed.Seconds()}
}

func refresh(src oauth2.TokenSource, goroutines int, duration time.Duration) map[string]any {
	first, err := src.Token()
	if err != nil {
		fail(err)
	}
	until := time.Now().Add(duration)
	samples := make([][]time.Duration, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<16)
			for time.Now().Before(until) {
				start := time.Now()
				if _, err := src.Token(); err != nil {
					fail(err)
				}
				mine = append(mine, time.Since(start))
				time.Sleep(time.Millisecond) // a caller doing other work between calls
			}
			samples[g] = mine
		}(g)
	}
	wg.Wait()
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	last, _ := src.Token()
	return map[string]any{"goroutines": goroutines, "calls": len(all),
		"p50_ns": pct(all, 0.5), "p99_ns": pct(all, 0.99), "p999_ns": pct(all, 0.999), "max_ns": all[len(all)-1].Nanoseconds(),
		"token_changed": last.AccessToken != first.AccessToken}
}

func fresh(impl, url string, tokens int) map[string]any {
	cc := credentials(url)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: http.DefaultTransport})
	cfg := sigmaauth.Config{Endpoint: url, ClientID: "demo-client", ClientSecret: sigmaauth.NewSecret("demo-secret")}
	var client *sigmaauth.Client
	if impl == "sigma-client" {
		var err error
		if client, err = sigmaauth.NewClient(cfg); err != nil {
			fail(err)
		}
		defer client.Close()
	}
	samples := make([]time.Duration, tokens)
	start := time.Now()
	for i := range samples {
		t0 := time.Now()
		var err error
		switch impl {
		case "oauth2":
			_, err = cc.Token(ctx) // a fresh fetch each time, over a kept-alive connection
		case "sigma-client":
			var token *oauth2.Token
			if token, err = client.Token(); err == nil {
				client.Invalidate(token.AccessToken) // as after a 401: the next Token fetches
			}
		default:
			_, err = sigmaauth.GetToken(cfg)
		}
		if err != nil {
			fail(err)
		}
		samples[i] = time.Since(t0)
	}
	elapsed := time.Since(start)
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	name := map[string]string{
		"oauth2":       "x/oauth2 clientcredentials Token (Go, kept-alive)",
		"sigma":        "sigmaauth.GetToken (Go, stateless, kept-alive)",
		"sigma-client": "sigmaauth Client: Token + Invalidate (Go, kept-alive)",
	}[impl]
	return map[string]any{"name": name, "tokens": tokens, "tokens_per_sec": float64(tokens) / elapsed.Seconds(),
		"p50_ns": pct(samples, 0.5), "p99_ns": pct(samples, 0.99)}
}

func pct(sorted []time.Duration, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))].Nanoseconds()
}
