package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/store"
)

// daemon is an inviter serve running for a test, in process (through run)
// or as a child process of the built binary.
type daemon struct {
	url   string // http://host:port
	token string
	stop  func() error
	cmd   *exec.Cmd // child process, or nil
	out   *bytes.Buffer
	// exited is closed when the serve has returned or the child process
	// has exited.
	exited <-chan struct{}
	// watch passes on the listeners' addresses from the serve's log.
	watch     *listenWatch
	adminOnce sync.Once
	admin     string // http://host:port of the admin listener, once known
}

// listenWatch reads a serve's log as it is written and passes on the
// addresses its listeners report once bound ("webhook listening",
// "admin listening …", text or JSON), so that a serve told to listen on
// port 0 says where it listens.
type listenWatch struct {
	mu      sync.Mutex
	partial []byte
	webhook chan string // the first address reported, buffered
	admin   chan string
}

var listenAddr = regexp.MustCompile(`"?addr"?[=:]"?([^\s"]+)`)

func newListenWatch() *listenWatch {
	return &listenWatch{webhook: make(chan string, 1), admin: make(chan string, 1)}
}

func (w *listenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		to := w.webhook
		switch {
		case strings.Contains(line, "webhook listening"):
		case strings.Contains(line, "admin listening"):
			to = w.admin
		default:
			continue
		}
		if m := listenAddr.FindStringSubmatch(line); m != nil {
			select {
			case to <- m[1]:
			default: // reported before (a restart in process)
			}
		}
	}
}

// adminURL returns the base URL of d's admin listener, waiting until the
// serve reports it.
func (d *daemon) adminURL(t testing.TB) string {
	t.Helper()
	d.adminOnce.Do(func() {
		select {
		case addr := <-d.watch.admin:
			d.admin = "http://" + addr
		case <-d.exited:
		case <-time.After(30 * time.Second):
		}
	})
	if d.admin == "" {
		t.Fatalf("serve reported no admin listener\n%s", d.out)
	}
	return d.admin
}

// serveArgs are the arguments of a serve for tests: quick batches and
// retries.
func serveArgs(addr, dsn string, extra ...string) []string {
	return append([]string{"serve", "--listen", addr, "--db", dsn,
		"--batch-window", "100ms", "--not-found-window", "1m", "--directory-refresh", "200ms",
		"--shutdown-wait", "5s", "--admin-listen", "127.0.0.1:0"}, extra...)
}

// startServe runs inviter serve in process against tenant.
func startServe(t *testing.T, tenant *isctest.Server, dsn string, extra ...string) *daemon {
	t.Helper()
	env := tenantEnv(tenant)
	d := &daemon{token: randomToken(), out: &bytes.Buffer{}, watch: newListenWatch()}
	env["INVITER_WEBHOOK_TOKEN"] = d.token
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	exited := make(chan struct{})
	d.exited = exited
	out := harness.SyncWriter(io.MultiWriter(d.out, d.watch))
	go func() {
		err := run(ctx, serveArgs("127.0.0.1:0", dsn, extra...), func(k string) string { return env[k] }, strings.NewReader(""), out, out)
		close(exited)
		done <- err
	}()
	var once sync.Once
	var stopErr error
	d.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = errors.New("serve did not stop within 30 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitListening(t, d, done)
	return d
}

// reopen stops d and opens its database for inspection (closed at cleanup).
func reopen(t *testing.T, d *daemon, dsn string) *store.DB {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitListening waits until the serve reports its webhook listener (or
// ends, which fails the test), sets d.url and checks that /readyz answers
// 200.
func waitListening(t testing.TB, d *daemon, done <-chan error) {
	t.Helper()
	select {
	case addr := <-d.watch.webhook:
		d.url = "http://" + addr
	case err := <-done:
		t.Fatalf("serve ended before it listened: %v\n%s", err, d.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve not listening after 30 s\n%s", d.out)
	}
	resp, err := http.Get(d.url + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v\n%s", err, d.out)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("serve listening, /readyz %d\n%s", resp.StatusCode, d.out)
	}
}

// waitReady waits until GET /readyz of a listening serve answers 200: for
// a condition outside the process, such as a disk that filled up having
// room again, that only polling can see.
func waitReady(t testing.TB, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(d.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling another process's state
	}
	t.Fatalf("serve not ready after 30 s\n%s", d.out)
}

// subscribe points the tenant's Identity Created trigger at d.
func subscribe(t *testing.T, tenant *isctest.Server, d *daemon) {
	t.Helper()
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), Retries: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSubscription(context.Background(), isc.Subscription{
		Name: "inviter test", TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{URL: d.url + "/hooks/identity-created", HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: d.token}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitInvited waits until the tenant has mailed every identity in ids.
func waitInvited(t *testing.T, tenant *isctest.Server, ids []string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	if err := tenant.WaitInvited(ctx, ids); err != nil {
		t.Fatalf("after %s: %v (tenant calls %d, 429s %d)", within, err, tenant.CallCount(""), tenant.RateLimited())
	}
}

// assertInvitedOnce stops every serve that could still send (stop lets the
// calls in flight finish), so that no invitation can follow, and then
// checks that each id was mailed exactly once.
func assertInvitedOnce(t *testing.T, tenant *isctest.Server, ids []string, senders ...*daemon) {
	t.Helper()
	if len(senders) == 0 {
		t.Fatal("assertInvitedOnce needs the serves that send")
	}
	for _, d := range senders {
		if err := d.stop(); err != nil {
			t.Errorf("stopping serve: %v\n%s", err, d.out)
		}
	}
	bad := 0
	for _, id := range ids {
		if n := tenant.InviteCount(id); n != 1 {
			bad++
			if bad <= 5 {
				t.Errorf("%s mailed %d times, want 1", id, n)
			}
		}
	}
	if bad > 5 {
		t.Errorf("… %d identities in all not mailed exactly once", bad)
	}
}

func identityIDs(ids []isctest.Identity) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.ID
	}
	return out
}

// TestServeInvitesEveryIdentityOnce is the daemon's main promise: 500 new
// identities, with 5xx, resets, 429s and late visibility, each invited
// exactly once, on every backend and both invite paths.
func TestServeInvitesEveryIdentityOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		for _, api := range []string{"public", "cc"} {
			t.Run(b.Name+"/"+api, func(t *testing.T) {
				t.Parallel()
				dsn := b.DSN(t)
				tenant := isctest.NewServer(isctest.Options{Users: 2000})
				t.Cleanup(tenant.Close)
				// The tenant allows fewer calls than the client is told it
				// may make, so 429s happen.
				tenant.SetRateLimit(4, time.Second)
				d := startServe(t, tenant, dsn, "--api", api, "--rate-limit", "60/1s")
				subscribe(t, tenant, d)
				tenant.SetFaults(isctest.Faults{ErrorRate: 0.1, ResetRate: 0.03, Seed: 11})

				wave := tenant.CreateIdentities(500, func(i int) isctest.NewIdentity {
					n := isctest.NewIdentity{}
					if i%4 == 0 {
						n.VisibleAfter = 700 * time.Millisecond
					}
					return n
				})
				ids := identityIDs(wave)
				waitInvited(t, tenant, ids, 2*time.Minute)
				assertInvitedOnce(t, tenant, ids, d)
				if tenant.RateLimited() == 0 {
					t.Error("the tenant answered no 429: the test did not exercise rate limiting")
				}
				if n := len(tenant.Deliveries()); n != 500 {
					t.Errorf("tenant delivered %d events, want 500", n)
				}
				t.Logf("%s/%s: %d ISC calls, %d 429s for 500 identities", b.Name, api, tenant.CallCount(""), tenant.RateLimited())
			})
		}
	}
}

// post sends one Identity Created delivery.
func post(t *testing.T, d *daemon, auth, contentType string, body []byte) (int, string) {
	t.Helper()
	return postURL(t, d.url+"/hooks/identity-created", auth, contentType, body)
}

// postTo sends one JSON delivery to url.
func postTo(t *testing.T, url, auth string, body []byte) (int, string) {
	t.Helper()
	return postURL(t, url, auth, "application/json", body)
}

// postURL sends one delivery to url. It may run on any goroutine: a
// request that gets no answer is reported with t.Error and status 0.
func postURL(t *testing.T, url, auth, contentType string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func payload(id, name string) []byte {
	return fmt.Appendf(nil, `{"identity":{"type":"IDENTITY","id":%q,"name":%q},"attributes":{"email":"x@example.com","cloudLifecycleState":"active","startDate":null,"count":3,"tags":["a"],"manager":{"id":"m"}},"extra":true}`, id, name)
}

func TestServeDuplicatesAndReplays(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			tenant := isctest.NewServer(isctest.Options{Users: 50})
			t.Cleanup(tenant.Close)
			d := startServe(t, tenant, dsn)
			ids := identityIDs(tenant.CreateIdentities(20, nil))
			auth := "Bearer " + d.token
			var wg sync.WaitGroup
			for _, id := range ids {
				for range 3 { // the same event three times at once
					wg.Go(func() {
						if code, body := post(t, d, auth, "application/json", payload(id, "Dup")); code != 200 || body != "" {
							t.Errorf("delivery: %d %q, want 200 and an empty body", code, body)
						}
					})
				}
			}
			wg.Wait()
			waitInvited(t, tenant, ids, time.Minute)
			for _, id := range ids { // replayed after the invite
				if code, _ := post(t, d, auth, "application/json", payload(id, "Replay")); code != 200 {
					t.Errorf("replay: %d", code)
				}
			}
			assertInvitedOnce(t, tenant, ids, d)
			db := reopen(t, d, dsn)
			c, err := db.Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Deliveries != 80 {
				t.Errorf("%d deliveries stored, want 80 (every one is kept as the record)", c.Deliveries)
			}
			if c.Identities[inviter.StateInvited] != 20 {
				t.Errorf("%d identities invited, want 20", c.Identities[inviter.StateInvited])
			}
		})
	}
}

func TestServeRejectsBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{Users: 10})
	t.Cleanup(tenant.Close)
	// No periodic job either (reconcile, retention): the queue must stay empty.
	d := startServe(t, tenant, dsn, "--reconcile-every", "0", "--retain-deliveries", "0", "--retain-audit", "0")
	good := payload("2c91808568c529c60168cca6f90c1313", "Ok")
	auth := "Bearer " + d.token
	tests := []struct {
		name   string
		method string
		auth   string
		body   []byte
		want   int
	}{
		{"no auth", "POST", "", good, 401},
		{"wrong token", "POST", "Bearer nope", good, 401},
		{"basic instead of bearer", "POST", "Basic dXNlcjpwYXNz", good, 401},
		{"wrong method", "GET", auth, nil, 405},
		{"not JSON", "POST", auth, []byte("hello"), 400},
		{"JSON array", "POST", auth, []byte(`[{"identity":{"id":"x"}}]`), 400},
		{"missing identity.id", "POST", auth, []byte(`{"identity":{"type":"IDENTITY","name":"x"}}`), 400},
		{"wrong identity.type", "POST", auth, []byte(`{"identity":{"type":"ACCOUNT","id":"x"}}`), 400},
		{"over 1 MiB", "POST", auth, append([]byte(`{"identity":{"id":"x"},"attributes":{"pad":"`), bytes.Repeat([]byte("a"), 1<<20)...), 413},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, d.url+"/hooks/identity-created", bytes.NewReader(tt.body))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.want == 400 && (body.Len() == 0 || strings.Count(strings.TrimSpace(body.String()), "\n") > 0) {
			t.Errorf("%s: reason %q, want one line", tt.name, body.String())
		}
	}
	db := reopen(t, d, dsn)
	c, err := db.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jobs := int64(0)
	for _, n := range c.Jobs {
		jobs += n
	}
	if c.Deliveries != 0 || jobs != 0 || c.Identities[inviter.StatePending] != 0 {
		t.Errorf("bad input changed the database: %d deliveries, %d jobs, %v identities", c.Deliveries, jobs, c.Identities)
	}
}

func TestServeRefusesToStartWithoutWebhookAuth(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	res := runInviter(t, testContext(t), tenantEnv(tenant), "serve", "--listen", "127.0.0.1:0", "--db", storetest.SQLiteDSN(t))
	if res.err == nil || exitCode(res.err) != 2 || !strings.Contains(res.err.Error(), "INVITER_WEBHOOK_TOKEN") {
		t.Fatalf("err = %v, want a usage error naming INVITER_WEBHOOK_TOKEN", res.err)
	}
	env := tenantEnv(tenant)
	env["INVITER_WEBHOOK_TOKEN"] = "t"
	res = runInviter(t, testContext(t), env, "serve", "--listen", "127.0.0.1:0", "--db", storetest.SQLiteDSN(t), "--rescue-after", "1s")
	if res.err == nil || !strings.Contains(res.err.Error(), "--rescue-after") {
		t.Fatalf("err = %v, want an error naming --rescue-after", res.err)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// inviterBinary builds the inviter command once for the tests that run it
// as a child process.
func inviterBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "inviter-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "inviter")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startChild runs inviter serve as a child process.
func startChild(t testing.TB, tenant *isctest.Server, dsn, token string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{token: token, out: &bytes.Buffer{}, watch: newListenWatch()}
	cmd := exec.Command(inviterBinary(t), serveArgs("127.0.0.1:0", dsn, extra...)...)
	cmd.Env = append(os.Environ(), "INVITER_WEBHOOK_TOKEN="+token)
	for k, v := range tenantEnv(tenant) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := harness.SyncWriter(io.MultiWriter(d.out, d.watch))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	done := make(chan error, 1)
	exited := make(chan struct{})
	d.exited = exited
	go func() { // the only Wait: os/exec allows one
		err := cmd.Wait()
		close(exited)
		done <- err
	}()
	var once sync.Once
	var stopErr error
	d.stop = func() error {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				stopErr = errors.New("serve did not stop on SIGTERM within 30 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitListening(t, d, done)
	return d
}

// TestServeKilledAfterAnswerLosesNothing: deliveries answered 200 survive a
// SIGKILL right after the answer; a restart on the same database invites
// them, each once.
func TestServeKilledAfterAnswerLosesNothing(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			tenant := isctest.NewServer(isctest.Options{Users: 100})
			t.Cleanup(tenant.Close)
			ids := identityIDs(tenant.CreateIdentities(60, nil))
			token := randomToken()
			// The first process batches for a minute, so nothing is sent
			// before it is killed.
			first := startChild(t, tenant, dsn, token, "--batch-window", "1m", "--batch-size", "1000")
			var wg sync.WaitGroup
			for _, id := range ids {
				wg.Go(func() {
					if code, _ := post(t, first, "Bearer "+token, "application/json", payload(id, "Kill")); code != 200 {
						t.Errorf("delivery: %d", code)
					}
				})
			}
			wg.Wait()
			if err := first.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-first.exited
			if n := len(tenant.Invites()); n != 0 {
				t.Fatalf("%d invites before the kill; the test needs none", n)
			}
			// The restart, holding the file's serve lock, hands back the jobs
			// the killed process left running.
			second := startChild(t, tenant, dsn, token, "--job-timeout", "2s", "--rescue-after", "3s")
			waitInvited(t, tenant, ids, time.Minute)
			assertInvitedOnce(t, tenant, ids, second)
			if err := second.stop(); err != nil {
				t.Errorf("graceful stop: %v\n%s", err, second.out)
			}
		})
	}
}
