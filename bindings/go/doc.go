// Package sigmaauth obtains, caches and refreshes Sigma Computing REST API
// tokens through the sigma-auth C library (a Rust core).
//
//	client, err := sigmaauth.NewClient(sigmaauth.Config{Endpoint: "aws-us-east", ClientID: id,
//		ClientSecret: sigmaauth.NewSecret(secret)})
//	if err != nil { ... }
//	defer client.Close()
//	http := client.HTTPClient(nil)         // the token goes to the Sigma API's origin only
//	token, err := client.CurrentToken(ctx) // or Token(): a *Client is an oauth2.TokenSource
//
// Callers waiting for a token are parked in Go and honour their context; the
// secret and tokens are Secrets that print as [redacted] everywhere.
//
// Observing it: set Config.Logger to have the library's events logged with
// log/slog (Debug for routine work such as a token obtained, Warn for
// retries, fallbacks, failures, cache bypasses and an unavailable token
// store), and Config.OnEvent to receive each Event yourself; Client.Stats
// returns the client's counters
// (tokens served, requests by grant and outcome, retries, cache hits, ...).
// No event, log line or counter holds a secret or token.
//
//	cfg.Logger = slog.Default()
//	cfg.OnEvent = func(e sigmaauth.Event) {
//		if e.Kind == sigmaauth.EventRefreshFailed { alert(e.Status, e.RequestID) }
//	}
//
// Linking: the released module carries a prebuilt static library per platform,
// so `go get` needs no Rust toolchain; with -tags sigma_system it links an
// installed sigma-auth through pkg-config instead. In the repository, the
// package links what cargo built (see cgo.go).
package sigmaauth
