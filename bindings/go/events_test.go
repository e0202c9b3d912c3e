package sigmaauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sigmaauth "github.com/sigma-auth/sigma-auth/bindings/go"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, record slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, record.Clone())
	return nil
}

type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (r *logRecorder) lines() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logLine
	for _, record := range r.records {
		line := logLine{level: record.Level, msg: record.Message, attrs: map[string]slog.Value{}}
		record.Attrs(func(a slog.Attr) bool {
			line.attrs[a.Key] = a.Value
			return true
		})
		out = append(out, line)
	}
	return out
}

// eventLog is an OnEvent that keeps every event.
type eventLog struct {
	mu     sync.Mutex
	events []sigmaauth.Event
}

func (l *eventLog) add(e sigmaauth.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []sigmaauth.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sigmaauth.Event(nil), l.events...)
}

func kindsOf(events []sigmaauth.Event) []sigmaauth.EventKind {
	var kinds []sigmaauth.EventKind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func find(t *testing.T, events []sigmaauth.Event, kind sigmaauth.EventKind) sigmaauth.Event {
	t.Helper()
	for _, e := range events {
		if e.Kind == kind {
			return e
		}
	}
	t.Fatalf("no %s in %v", kind, events)
	return sigmaauth.Event{}
}

// observed is cfg(m) with a recording Logger and OnEvent.
func observed(m *mock) (sigmaauth.Config, *logRecorder, *eventLog) {
	logs, events := &logRecorder{}, &eventLog{}
	c := cfg(m)
	c.Logger = slog.New(logs)
	c.OnEvent = events.add
	return c, logs, events
}

func newClient(t *testing.T, c sigmaauth.Config) *sigmaauth.Client {
	t.Helper()
	client, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func clientStats(t *testing.T, client *sigmaauth.Client) sigmaauth.Stats {
	t.Helper()
	s, err := client.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// logMatches checks that the log has one line per event, in order, at the
// level of its kind.
func logMatches(t *testing.T, lines []logLine, events []sigmaauth.Event) {
	t.Helper()
	warnings := map[sigmaauth.EventKind]bool{sigmaauth.EventRefreshFailed: true, sigmaauth.EventRetryScheduled: true,
		sigmaauth.EventFallbackToClientCredentials: true, sigmaauth.EventCacheBypassed: true}
	if len(lines) != len(events) {
		t.Fatalf("%d log lines for %d events", len(lines), len(events))
	}
	for i, line := range lines {
		kind := events[i].Kind
		want := map[bool]slog.Level{true: slog.LevelWarn, false: slog.LevelDebug}[warnings[kind]]
		if line.level != want || line.msg != "sigmaauth: "+kind.String() || line.attrs["kind"].String() != kind.String() {
			t.Fatalf("line %d for %s: %v %q kind=%v", i, kind, line.level, line.msg, line.attrs["kind"])
		}
	}
}

func TestEventsOfAFirstTokenThenACachedOne(t *testing.T) {
	m := startMock(t)
	c, logs, events := observed(m)
	client := newClient(t, c)
	token, err := client.CurrentToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Token(); err != nil {
		t.Fatal(err)
	}
	seen := events.all()
	if want := []sigmaauth.EventKind{sigmaauth.EventRefreshStarted, sigmaauth.EventTokenObtained}; !reflect.DeepEqual(kindsOf(seen), want) {
		t.Fatalf("events %v, want %v", kindsOf(seen), want)
	}
	obtained := seen[1]
	if obtained.Grant != "client_credentials" || obtained.Serial != token.Serial || obtained.ExpiresIn != time.Hour ||
		obtained.Background || obtained.Status != sigmaauth.StatusOK || obtained.Message != "" {
		t.Fatalf("TOKEN_OBTAINED %+v, token serial %d", obtained, token.Serial)
	}
	if obtained.Duration <= 0 || obtained.Duration > 5*time.Second {
		t.Fatalf("duration %v", obtained.Duration)
	}
	if text := obtained.String(); !strings.HasPrefix(text, fmt.Sprintf("TOKEN_OBTAINED grant=client_credentials serial=%d expires_in=1h0m0s duration=", token.Serial)) {
		t.Fatalf("String() = %q", text)
	}
	if data, _ := json.Marshal(obtained); !strings.Contains(string(data), `"Kind":"TOKEN_OBTAINED"`) {
		t.Fatalf("JSON %s", data)
	}

	lines := logs.lines()
	logMatches(t, lines, seen)
	attrs := lines[1].attrs
	if attrs["grant"].String() != "client_credentials" || attrs["serial"].Uint64() != token.Serial ||
		attrs["expires_in"].Duration() != time.Hour || attrs["duration"].Duration() != obtained.Duration {
		t.Fatalf("TOKEN_OBTAINED attributes %v", attrs)
	}
	for _, absent := range []string{"status", "http_status", "wait", "background", "message", "attempt"} {
		if _, ok := attrs[absent]; ok {
			t.Fatalf("TOKEN_OBTAINED logged %s: %v", absent, attrs)
		}
	}

	s := clientStats(t, client)
	if s.TokensServed != 2 || s.ClientCredentialsOK != 1 || s.ClientCredentialsFailed != 0 || s.RefreshTokenOK != 0 {
		t.Fatalf("stats %+v", s)
	}
	if time.Since(s.LastSuccess) > time.Minute || !s.LastFailure.IsZero() {
		t.Fatalf("last success %v, last failure %v", s.LastSuccess, s.LastFailure)
	}
}

// The library counts a shared request's token once; the Go client hands it to
// every waiting goroutine and counts each.
func TestStatsTokensServedIsTheNumberOfTokensReturned(t *testing.T) {
	m := startMock(t, "--token-delay-ms", "300")
	client := newClient(t, cfg(m))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := client.Token(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Add(1)
	go func() { // gives up waiting: no token returned, none counted
		defer wg.Done()
		<-start
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := client.TokenContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want DeadlineExceeded, got %v", err)
		}
	}()
	close(start)
	wg.Wait()
	for i := 0; i < 5; i++ {
		if _, err := client.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CurrentToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := client.HTTPClient(nil).Get(m.URL + "/v2/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := m.stats(t).TokenRequests; n != 1 {
		t.Fatalf("%d token requests, want the one shared", n)
	}
	if s := clientStats(t, client); s.TokensServed != 8+5+1+1 {
		t.Fatalf("TokensServed %d, want 15", s.TokensServed)
	}
}

// Mirrors tests/events.rs retries_fallback_failure_and_invalidation_in_order.
func TestEventsOfRetriesFallbackFailureAndInvalidationInOrder(t *testing.T) {
	m := startMock(t)
	c, logs, events := observed(m)
	c.MaxAttempts = 2
	client := newClient(t, c)
	first, err := client.Token()
	if err != nil {
		t.Fatal(err)
	}
	m.faults(t, fault("status", `"status":503`))
	m.post(t, "/__mock/expire?refresh=1", "") // the refresh token is refused next: fallback
	client.Invalidate(first.AccessToken)
	second, err := client.Token()
	if err != nil {
		t.Fatal(err)
	}
	m.faults(t, fault("status", `"status":401`, `"message":"bad"`), fault("status", `"status":401`, `"message":"bad"`))
	client.Invalidate(second.AccessToken)
	if _, err := client.Token(); !errors.Is(err, sigmaauth.ErrInvalidClient) {
		t.Fatalf("want ErrInvalidClient, got %v", err)
	}

	seen := events.all()
	want := []sigmaauth.EventKind{
		sigmaauth.EventRefreshStarted, sigmaauth.EventTokenObtained, // first
		sigmaauth.EventInvalidated,
		sigmaauth.EventRefreshStarted, sigmaauth.EventRetryScheduled, sigmaauth.EventFallbackToClientCredentials,
		sigmaauth.EventTokenObtained, // 503, refused refresh, cc
		sigmaauth.EventInvalidated,
		sigmaauth.EventRefreshStarted, sigmaauth.EventFallbackToClientCredentials, sigmaauth.EventRefreshFailed, // 401 refresh, 401 cc
	}
	if !reflect.DeepEqual(kindsOf(seen), want) {
		t.Fatalf("events\n%v\nwant\n%v", kindsOf(seen), want)
	}
	lines := logs.lines()
	logMatches(t, lines, seen)

	retry := find(t, seen, sigmaauth.EventRetryScheduled)
	if retry.HTTPStatus != 503 || retry.Attempt != 1 || retry.Grant != "refresh_token" || retry.Wait < 0 || retry.Wait > 10*time.Second ||
		retry.RequestID == "" || retry.Status != sigmaauth.StatusServer {
		t.Fatalf("RETRY_SCHEDULED %+v", retry)
	}
	retryLine := lines[4].attrs
	if retryLine["http_status"].Int64() != 503 || retryLine["attempt"].Int64() != 1 || retryLine["wait"].Duration() != retry.Wait ||
		retryLine["request_id"].String() != retry.RequestID || retryLine["status"].String() != "SERVER" {
		t.Fatalf("RETRY_SCHEDULED attributes %v", retryLine)
	}
	failed := find(t, seen, sigmaauth.EventRefreshFailed)
	if failed.Status != sigmaauth.StatusInvalidClient || failed.HTTPStatus != 401 || !strings.Contains(failed.Message, "bad") {
		t.Fatalf("REFRESH_FAILED %+v", failed)
	}
	if attrs := lines[10].attrs; attrs["status"].String() != "INVALID_CLIENT" || !strings.Contains(attrs["message"].String(), "bad") {
		t.Fatalf("REFRESH_FAILED attributes %v", attrs)
	}
	if invalidated := seen[2]; invalidated.Serial == 0 || invalidated.Serial != seen[1].Serial {
		t.Fatalf("INVALIDATED %+v after %+v", invalidated, seen[1])
	}

	s := clientStats(t, client)
	if s.Retries != 1 || s.Invalidations != 2 || s.ClientCredentialsFailed != 1 || s.ClientCredentialsOK != 2 ||
		s.RefreshTokenOK != 0 || s.RefreshTokenFailed != 2 || s.LastFailure.IsZero() || s.TokensServed != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestACacheHitAndACacheBypassAreEvents(t *testing.T) {
	m := startMock(t)
	dir := filepath.Join(t.TempDir(), "cache")
	plain := cfg(m)
	plain.TokenCache = dir
	if _, err := newClient(t, plain).Token(); err != nil {
		t.Fatal(err)
	}
	c, logs, events := observed(m)
	c.TokenCache = dir
	client := newClient(t, c)
	if _, err := client.Token(); err != nil {
		t.Fatal(err)
	}
	seen := events.all()
	want := []sigmaauth.EventKind{sigmaauth.EventRefreshStarted, sigmaauth.EventCacheHit, sigmaauth.EventTokenObtained}
	if !reflect.DeepEqual(kindsOf(seen), want) {
		t.Fatalf("events %v, want %v", kindsOf(seen), want)
	}
	if seen[2].Grant != "" {
		t.Fatalf("a token from the cache came from grant %q", seen[2].Grant)
	}
	logMatches(t, logs.lines(), seen)
	if s := clientStats(t, client); s.CacheHits != 1 || s.ClientCredentialsOK != 0 || m.stats(t).TokenRequests != 1 {
		t.Fatalf("stats %+v, %d token requests", s, m.stats(t).TokenRequests)
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // a directory others can write is never used
		t.Fatal(err)
	}
	c, logs, events = observed(m)
	c.TokenCache = open
	if _, err := newClient(t, c).Token(); err != nil {
		t.Fatal(err)
	}
	bypass := find(t, events.all(), sigmaauth.EventCacheBypassed)
	if !strings.Contains(bypass.Message, "777") && !strings.Contains(bypass.Message, "private") { // says why
		t.Fatalf("CACHE_BYPASSED %+v", bypass)
	}
	logMatches(t, logs.lines(), events.all())
}

// within fails the test if f does not return in time (a deadlock).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still waiting after %v: a deadlock", d)
	}
}

func TestOnEventMayCallTheLibraryEvenTheSameClient(t *testing.T) {
	m := startMock(t)
	var client atomic.Pointer[sigmaauth.Client]
	var phase atomic.Int32
	var nested eventLog // the events of GetToken called from OnEvent
	var mu sync.Mutex
	var servedInCallback []uint64
	var callbackErrs []error
	record := func(serial uint64, err error) {
		mu.Lock()
		defer mu.Unlock()
		servedInCallback = append(servedInCallback, serial)
		if err != nil {
			callbackErrs = append(callbackErrs, err)
		}
	}
	c := cfg(m)
	c.MaxAttempts = 1
	c.OnEvent = func(e sigmaauth.Event) {
		switch {
		case phase.Load() == 1 && e.Kind == sigmaauth.EventTokenObtained:
			token, err := client.Load().CurrentToken(context.Background())
			if err != nil {
				record(0, err)
				return
			}
			record(token.Serial, nil)
			other := cfg(m)
			other.OnEvent = nested.add // its own events, delivered while this one runs
			_, err = sigmaauth.GetToken(other)
			record(0, err)
		case phase.Load() == 2 && e.Kind == sigmaauth.EventRefreshFailed && phase.CompareAndSwap(2, 3):
			// The request that failed settled on this thread: a new one starts here.
			token, err := client.Load().CurrentToken(context.Background())
			if err != nil {
				record(0, err)
				return
			}
			record(token.Serial, nil)
		}
	}
	client.Store(newClient(t, c))

	phase.Store(1)
	var token *sigmaauth.Token
	within(t, 20*time.Second, func() {
		var err error
		token, err = client.Load().CurrentToken(context.Background())
		if err != nil {
			t.Error(err)
		}
	})
	if token == nil {
		t.FailNow()
	}
	mu.Lock()
	if !reflect.DeepEqual(servedInCallback, []uint64{token.Serial, 0}) || len(callbackErrs) != 0 {
		t.Fatalf("served in the callback %v (errors %v), want the token just obtained, %d", servedInCallback, callbackErrs, token.Serial)
	}
	servedInCallback = nil
	mu.Unlock()
	if kinds := kindsOf(nested.all()); !reflect.DeepEqual(kinds, []sigmaauth.EventKind{sigmaauth.EventTokenObtained}) {
		t.Fatalf("the nested GetToken's events: %v", kinds)
	}

	phase.Store(2)
	m.faults(t, fault("status", `"status":500`))
	client.Load().Invalidate(token.AccessToken.Reveal())
	within(t, 20*time.Second, func() {
		if _, err := client.Load().Token(); !errors.Is(err, sigmaauth.ErrServer) {
			t.Errorf("want ErrServer, got %v", err)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if len(servedInCallback) != 1 || servedInCallback[0] <= token.Serial || len(callbackErrs) != 0 {
		t.Fatalf("a token call from REFRESH_FAILED's callback: %v %v", servedInCallback, callbackErrs)
	}
}

func TestAPanicInOnEventLosesOnlyItsEvent(t *testing.T) {
	m := startMock(t)
	c, logs, _ := observed(m)
	var calls atomic.Int64
	c.OnEvent = func(sigmaauth.Event) {
		calls.Add(1)
		panic("a bug in OnEvent")
	}
	client := newClient(t, c)
	first, err := client.Token()
	if err != nil {
		t.Fatal(err)
	}
	client.Invalidate(first.AccessToken)
	if second, err := client.Token(); err != nil || second.AccessToken == first.AccessToken {
		t.Fatalf("after panics: %v", err)
	}
	if n := calls.Load(); n != 5 { // started, obtained, invalidated, started, obtained
		t.Fatalf("OnEvent called %d times", n)
	}
	var panics, events int
	for _, line := range logs.lines() {
		if line.level == slog.LevelError {
			panics++
			if !strings.Contains(line.msg, "OnEvent panicked") || line.attrs["panic"].String() != "a bug in OnEvent" || line.attrs["kind"].String() == "" {
				t.Fatalf("panic logged as %q %v", line.msg, line.attrs)
			}
		} else {
			events++
		}
	}
	if panics != 5 || events != 5 {
		t.Fatalf("%d panics and %d events logged", panics, events)
	}

	// Without a Logger too, and from the library's own background thread.
	bg := startMock(t, "--expires-in", "3")
	quiet := cfg(bg)
	quiet.RefreshMargin = 2 * time.Second
	var background atomic.Int64
	quiet.OnEvent = func(e sigmaauth.Event) {
		if e.Background {
			background.Add(1)
		}
		panic(errors.New("another bug"))
	}
	client = newClient(t, quiet)
	deadline := time.Now().Add(10 * time.Second)
	for background.Load() < 2 && time.Now().Before(deadline) {
		if _, err := client.Token(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if background.Load() < 2 {
		t.Fatal("no background refresh events")
	}
}

func TestBackgroundRefreshEventsComeFromTheLibrarysThread(t *testing.T) {
	m := startMock(t, "--expires-in", "4")
	c, logs, events := observed(m)
	c.RefreshMargin = 3 * time.Second
	client := newClient(t, c)
	first, err := client.CurrentToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var obtained *sigmaauth.Event
	deadline := time.Now().Add(10 * time.Second)
	for obtained == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if _, err := client.Token(); err != nil { // starts the refresh once due
			t.Fatal(err)
		}
		for _, e := range events.all() {
			if e.Kind == sigmaauth.EventTokenObtained && e.Background {
				obtained = &e
			}
		}
	}
	if obtained == nil {
		t.Fatalf("no background TOKEN_OBTAINED: %v", events.all())
	}
	seen := events.all()
	if !reflect.DeepEqual(kindsOf(seen[:4]), []sigmaauth.EventKind{sigmaauth.EventRefreshStarted, sigmaauth.EventTokenObtained,
		sigmaauth.EventRefreshStarted, sigmaauth.EventTokenObtained}) || seen[0].Background || !seen[2].Background {
		t.Fatalf("events %v", seen)
	}
	if obtained.Grant != "refresh_token" || obtained.Serial <= first.Serial || obtained.ExpiresIn != 4*time.Second {
		t.Fatalf("background TOKEN_OBTAINED %+v", obtained)
	}
	lines := logs.lines()
	if !lines[2].attrs["background"].Bool() || !lines[3].attrs["background"].Bool() {
		t.Fatalf("background not logged: %v", lines[3].attrs)
	}
	if s := clientStats(t, client); s.BackgroundRefreshes < 1 || s.RefreshTokenOK < 1 {
		t.Fatalf("stats %+v", s)
	}
	// The refreshed token is what the client now serves.
	if now, _ := client.CurrentToken(context.Background()); now.Serial < obtained.Serial {
		t.Fatalf("serving %d after %d was obtained", now.Serial, obtained.Serial)
	}
}

// syncBuffer is a bytes.Buffer for handlers written from any thread.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNoEventOrLogLineHoldsASecretOrToken(t *testing.T) {
	const id, hiddenSecret = "cid1", "S3CRET-VALUE-42x"
	m := startMock(t, "--client-id", id, "--client-secret", hiddenSecret)
	var jsonLog, textLog, printed syncBuffer
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	text := slog.New(slog.NewTextHandler(&textLog, debug))
	var events eventLog
	c := sigmaauth.Config{Endpoint: m.URL, ClientID: id, ClientSecret: sigmaauth.NewSecret(hiddenSecret), MaxAttempts: 2,
		Logger: slog.New(slog.NewJSONHandler(&jsonLog, debug)),
		OnEvent: func(e sigmaauth.Event) {
			events.add(e)
			text.Info("event", "event", e) // through LogValue
			fmt.Fprintf(&printed, "%v %+v %#v %s\n", e, e, e, e)
		}}
	client := newClient(t, c)
	token, err := client.CurrentToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hidden := []string{hiddenSecret, token.AccessToken.Reveal(), token.RefreshToken.Reveal()}
	for _, encoding := range []string{"raw", "form", "base64"} {
		current, err := client.CurrentToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		hidden = append(hidden, current.AccessToken.Reveal(), current.RefreshToken.Reveal())
		m.faults(t, fault("echo", `"status":503`, `"field":"message"`, `"what":"body"`, fmt.Sprintf(`"encoding":%q`, encoding)),
			fault("echo", `"field":"message"`, `"what":"secret"`, fmt.Sprintf(`"encoding":%q`, encoding)))
		client.Invalidate(current.AccessToken.Reveal())
		_, _ = client.Token()
	}
	seen := events.all()
	var messages []string
	for _, e := range seen {
		if e.Kind == sigmaauth.EventRetryScheduled {
			messages = append(messages, e.Message)
		}
	}
	if len(messages) != 3 || !strings.Contains(strings.Join(messages, " "), "[redacted]") {
		t.Fatalf("the echoes did not reach the events as scrubbed messages: %q", messages)
	}
	texts := []string{jsonLog.String(), textLog.String(), printed.String()}
	for _, e := range seen {
		texts = append(texts, everyText(e)...)
	}
	for _, text := range texts {
		for _, h := range hidden {
			if h != "" && reveals(text, h) {
				t.Fatalf("leaked in %s", text)
			}
		}
	}
}

func TestCloseReleasesTheEventHandleAndNoEventFollowsIt(t *testing.T) {
	before := sigmaauth.LiveEventSinks()
	m := startMock(t)

	// An impersonated client shares its parent's events, and keeps them
	// alive after the parent is closed.
	var events eventLog
	c := cfg(m)
	c.OnEvent = events.add
	admin, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	user, err := admin.Impersonate("someone@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := sigmaauth.LiveEventSinks(); n != before+1 {
		t.Fatalf("%d live handles, want %d", n, before+1)
	}
	token, err := user.Token()
	if err != nil {
		t.Fatal(err)
	}
	if e := find(t, events.all(), sigmaauth.EventTokenObtained); e.Grant != "client_credentials" {
		t.Fatalf("the admin's token first: %+v", e)
	}
	if last := events.all()[len(events.all())-1]; last.Kind != sigmaauth.EventTokenObtained || last.Grant != "token_exchange" {
		t.Fatalf("the user's token last: %+v", last)
	}
	admin.Close()
	if n := sigmaauth.LiveEventSinks(); n != before+1 {
		t.Fatalf("%d live handles after the admin's Close, want %d", n, before+1)
	}
	if _, err := admin.Impersonate("other@example.com", ""); !errors.Is(err, sigmaauth.ErrClosed) {
		t.Fatalf("Impersonate after Close: %v", err)
	}
	count := len(events.all())
	user.Invalidate(token.AccessToken)
	if _, err := user.Token(); err != nil {
		t.Fatal(err)
	}
	if len(events.all()) != count+3 { // invalidated, started, obtained
		t.Fatalf("the user's events after the admin's Close: %v", kindsOf(events.all()[count:]))
	}
	user.Close()
	user.Close()
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("%d live handles after every Close, want %d", n, before)
	}

	// A request in flight when Close returns finishes, and tells no one.
	slow := startMock(t, "--token-delay-ms", "500")
	var closed atomic.Bool
	var total, late atomic.Int64
	c = cfg(slow)
	c.OnEvent = func(sigmaauth.Event) {
		total.Add(1)
		if closed.Load() {
			late.Add(1)
		}
	}
	client, err := sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := client.Token()
		done <- err
	}()
	time.Sleep(150 * time.Millisecond)
	client.Close()
	closed.Store(true)
	if err := <-done; err != nil { // the request in flight went on
		t.Fatal(err)
	}
	if late.Load() != 0 || total.Load() != 0 || slow.stats(t).TokenRequests != 1 {
		t.Fatalf("%d events after Close (%d in all), %d requests", late.Load(), total.Load(), slow.stats(t).TokenRequests)
	}
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("%d live handles, want %d", n, before)
	}

	// Close waits for a delivery running in another thread.
	entered := make(chan struct{})
	var finished atomic.Bool
	c = cfg(m)
	c.OnEvent = func(e sigmaauth.Event) {
		if e.Kind == sigmaauth.EventTokenObtained {
			close(entered)
			time.Sleep(300 * time.Millisecond)
			finished.Store(true)
		}
	}
	client, err = sigmaauth.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = client.Token() }()
	<-entered
	client.Close()
	if !finished.Load() {
		t.Fatal("Close returned while OnEvent was still running")
	}

	// A client dropped without Close releases its handle when collected.
	func() {
		c := cfg(m)
		c.OnEvent = func(sigmaauth.Event) {}
		client, err := sigmaauth.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Token(); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for sigmaauth.LiveEventSinks() != before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("%d live handles after the client was collected, want %d", n, before)
	}
}

func TestStatelessCallsSendTheirEventsAndWithoutEventsNoneAreRegistered(t *testing.T) {
	m := startMock(t)
	before := sigmaauth.LiveEventSinks()
	client := newClient(t, cfg(m))
	if _, err := client.Token(); err != nil {
		t.Fatal(err)
	}
	user, err := client.Impersonate("someone@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	if _, err := user.Token(); err != nil {
		t.Fatal(err)
	}
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("a config without Logger or OnEvent registered %d handles", n-before)
	}

	var events eventLog
	c := cfg(m)
	c.OnEvent = events.add
	token, err := sigmaauth.GetToken(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sigmaauth.RefreshToken(c, token.RefreshToken); err != nil {
		t.Fatal(err)
	}
	seen := events.all()
	if len(seen) != 2 || seen[0].Kind != sigmaauth.EventTokenObtained || seen[0].Grant != "client_credentials" ||
		seen[0].Serial != token.Serial || seen[1].Grant != "refresh_token" {
		t.Fatalf("events %v", seen)
	}
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("GetToken with an OnEvent left %d handles", n-before)
	}

	// Configs shared by GetToken are told apart by their Logger.
	sigmaauth.ForgetStatelessConfigs()
	t.Cleanup(sigmaauth.ForgetStatelessConfigs)
	first, second := &logRecorder{}, &logRecorder{}
	c1, c2 := cfg(m), cfg(m)
	c1.Logger, c2.Logger = slog.New(first), slog.New(second)
	for _, c := range []sigmaauth.Config{c1, c2, c1} {
		if _, err := sigmaauth.GetToken(c); err != nil {
			t.Fatal(err)
		}
	}
	if len(first.lines()) != 2 || len(second.lines()) != 1 {
		t.Fatalf("%d and %d log lines, want 2 and 1", len(first.lines()), len(second.lines()))
	}
}

// Close from OnEvent, on the thread delivering the client's event, does not
// wait for that delivery: it would wait for itself.
func TestCloseFromOnEventDoesNotWaitForItself(t *testing.T) {
	before := sigmaauth.LiveEventSinks()
	m := startMock(t)
	var client atomic.Pointer[sigmaauth.Client]
	var after atomic.Int64
	var closed atomic.Bool
	c := cfg(m)
	c.OnEvent = func(e sigmaauth.Event) {
		if closed.Load() {
			after.Add(1)
		}
		if e.Kind == sigmaauth.EventRefreshStarted {
			client.Load().Close()
			closed.Store(true)
		}
	}
	client.Store(newClient(t, c))
	started := time.Now()
	if _, err := client.Load().Token(); err != nil { // the request was made before Close
		t.Fatal(err)
	}
	if waited := time.Since(started); waited > 2*time.Second {
		t.Fatalf("Token took %v: Close waited for the callback it was called from", waited)
	}
	if after.Load() != 0 {
		t.Fatalf("%d events after Close", after.Load())
	}
	if n := sigmaauth.LiveEventSinks(); n != before {
		t.Fatalf("%d live handles, want %d", n, before)
	}
}

// The kinds' names and levels come from the C library; each Go constant must
// name the kind the library gives its value, and every kind it names must
// have a constant.
func TestEventKindNamesAndLevelsAreTheLibrarys(t *testing.T) {
	kinds := []struct {
		kind sigmaauth.EventKind
		name string
		warn bool
	}{
		{sigmaauth.EventTokenObtained, "TOKEN_OBTAINED", false},
		{sigmaauth.EventRefreshStarted, "REFRESH_STARTED", false},
		{sigmaauth.EventRefreshFailed, "REFRESH_FAILED", true},
		{sigmaauth.EventRetryScheduled, "RETRY_SCHEDULED", true},
		{sigmaauth.EventFallbackToClientCredentials, "FALLBACK_TO_CLIENT_CREDENTIALS", true},
		{sigmaauth.EventInvalidated, "INVALIDATED", false},
		{sigmaauth.EventCacheHit, "CACHE_HIT", false},
		{sigmaauth.EventCacheBypassed, "CACHE_BYPASSED", true},
		{sigmaauth.EventStoreHit, "STORE_HIT", false},
		{sigmaauth.EventStoreUnavailable, "STORE_UNAVAILABLE", true},
	}
	if got := sigmaauth.KnownEventKindCount(); got != len(kinds) {
		t.Fatalf("the library names %d event kinds, the binding has constants for %d", got, len(kinds))
	}
	for _, k := range kinds {
		want := slog.LevelDebug
		if k.warn {
			want = slog.LevelWarn
		}
		if k.kind.String() != k.name || sigmaauth.EventKindLevel(k.kind) != want {
			t.Errorf("kind %d: %s at %v, want %s at %v", k.kind, k.kind, sigmaauth.EventKindLevel(k.kind), k.name, want)
		}
	}
	if sigmaauth.EventKind(0).String() != "UNKNOWN" || sigmaauth.EventKind(1000).String() != "UNKNOWN" {
		t.Error("values the library does not name are UNKNOWN")
	}
}
