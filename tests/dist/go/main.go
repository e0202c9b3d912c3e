// The release check's Go program: builds against the released module (fetched
// through a module proxy), gets a token and calls /v2/whoami with it.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth-go"
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
	if _, err := client.CurrentToken(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp, err := client.HTTPClient(nil).Get(os.Args[1] + "/v2/whoami")
	if err != nil || resp.StatusCode != 200 {
		fmt.Fprintln(os.Stderr, "whoami failed:", err, resp)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Println("sigmaauth", sigmaauth.Version, "(library", sigmaauth.LibraryVersion()+"): token and whoami ok")
}
