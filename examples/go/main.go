// Command get_token gets a Sigma API token with sigmaauth and calls whoami with it.
//
// Credentials come from SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
// SIGMA_CLIENT_SECRET. Build the static library first: cargo build --release -p sigma-auth
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

func main() {
	cfg, err := sigmaauth.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client, err := sigmaauth.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := client.CurrentToken(ctx) // a Token whose secrets never print
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("sigmaauth %s (library %s): got %v.\n", sigmaauth.Version, sigmaauth.LibraryVersion(), token)
	access := token.AccessToken.Reveal()
	fmt.Printf("Authorization: Bearer %.12s... (%d characters)\n", access, len(access))

	if strings.HasPrefix(cfg.Endpoint, "http") {
		resp, err := client.HTTPClient(nil).Get(strings.TrimRight(cfg.Endpoint, "/") + "/v2/whoami")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		fmt.Printf("GET /v2/whoami: %d\n", resp.StatusCode)
	}
}
