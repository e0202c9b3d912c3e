package sigmaauth_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mock is one sigma-mock process on loopback.
type mock struct {
	URL string
	cmd *exec.Cmd
	in  io.WriteCloser
}

func mockBinary() string {
	if bin := os.Getenv("SIGMA_MOCK_BIN"); bin != "" {
		return bin
	}
	return filepath.Join("..", "..", "target", "debug", "sigma-mock")
}

// startMock starts a fresh mock for one test and stops it when the test ends.
func startMock(t testing.TB, args ...string) *mock {
	t.Helper()
	cmd := exec.Command(mockBinary(), append([]string{"--exit-with-stdin"}, args...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sigma-mock (build it with cargo build -p sigma-mock): %v", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("sigma-mock printed no URL: %v", err)
	}
	m := &mock{URL: strings.TrimSpace(line), cmd: cmd, in: in}
	t.Cleanup(m.stop)
	return m
}

func (m *mock) stop() {
	m.in.Close()
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
}

func (m *mock) post(t testing.TB, path, body string) {
	t.Helper()
	resp, err := http.Post(m.URL+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
}

func (m *mock) faults(t testing.TB, faults ...string) {
	m.post(t, "/__mock/faults", "["+strings.Join(faults, ",")+"]")
}

func (m *mock) expire(t testing.TB) { m.post(t, "/__mock/expire", "") }

type apiRequest struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Headers [][2]string `json:"headers"`
}

type stats struct {
	RecentAPIRequests []apiRequest   `json:"recent_api_requests"`
	TokenRequests     int            `json:"token_requests"`
	Connections       int            `json:"connections"`
	ByGrant           map[string]int `json:"by_grant"`
	ByStatus          map[string]int `json:"by_status"`
	WhoamiByStatus    map[string]int `json:"whoami_by_status"`
	MaxConcurrent     int            `json:"max_concurrent_token_requests"`
}

func (m *mock) stats(t testing.TB) stats {
	t.Helper()
	resp, err := http.Get(m.URL + "/__mock/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func fault(kind string, fields ...string) string {
	all := append([]string{fmt.Sprintf(`"kind":%q`, kind)}, fields...)
	return "{" + strings.Join(all, ",") + "}"
}
