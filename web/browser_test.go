package web_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/web"
)

// chromiumEnv names the Chromium binary the browser test drives; .ci/run
// installs Debian's chromium and sets it.
const chromiumEnv = "INVITER_TEST_CHROMIUM"

// headless runs Chromium headless on url with args and returns its output.
func headless(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=2000",
	}, args...)
	all = append(all, url)
	cmd := exec.Command(bin, all...)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return string(out)
}

// TestStatusPageInBrowser renders the status page in a real browser: the
// DOM it builds shows the figures and the unhealthy banner, keeps a hostile
// identity name as text, and runs no script.
func TestStatusPageInBrowser(t *testing.T) {
	t.Parallel()
	bin := os.Getenv(chromiumEnv)
	if bin == "" {
		t.Skipf("%s is not set (.ci/run sets it to Debian's chromium)", chromiumEnv)
	}
	const hostile = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`
	b := setup(t)
	b.status.StatusFn = func(context.Context) (web.Status, error) {
		return web.Status{
			StartedAt:  testNow.Add(-time.Hour),
			Backend:    "sqlite",
			API:        inviter.APICC,
			Identities: web.IdentityCounts{Pending: 2, Invited: 1234, Failed: 1, Skipped: 5},
			Deliveries: 1242,
			Jobs:       map[string]int{"completed": 1234, "available": 2},
			LastErrors: []web.Failure{{IdentityID: "2c9180-bad", Reason: "ISC answered 400", At: testNow}},
			RecentInvites: []web.RecentInvite{{
				IdentityID: "2c9180835d2e5168015d32f890ca1581", Name: hostile, API: inviter.APICC, At: testNow,
			}},
			ISC: web.ISCHealth{
				LastSuccess: testNow.Add(-time.Hour), LastError: testNow, LastErrorText: "403 Forbidden on /beta/identities/invite", Recent403: 7,
				ConfigProblem: "ISC refused inviter's rights: the token lacks idn:password-user-invite:manage",
			},
			TestDeliveries: []web.TestDelivery{{IdentityID: "2c7180a46faadee4016fb4e018c20642", Name: "Michael Michaels", Event: "identity-created", At: testNow}},
		}, nil
	}
	var iscDown atomic.Bool // the page without a configuration problem, after a failed call
	base := b.status.StatusFn
	b.status.StatusFn = func(ctx context.Context) (web.Status, error) {
		st, err := base(ctx)
		if iscDown.Load() {
			st.ISC.ConfigProblem = ""
			st.ISC.LastErrorText = "POST /beta/identities/invite: 503 Service Unavailable"
		}
		return st, err
	}
	srv := httptest.NewServer(b.admin)
	t.Cleanup(srv.Close)

	dom := headless(t, bin, srv.URL+"/", "--dump-dom")
	for _, want := range []string{"1234", "1242", "2c9180-bad", "2c9180835d2e5168015d32f890ca1581", "cc", "sqlite",
		`<p class="banner" id="config-problem" role="alert">Configuration problem: ISC refused inviter's rights: the token lacks idn:password-user-invite:manage.`,
		"<strong>unhealthy</strong>", "Michael Michaels", "inviter jobs retry --all-failed",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "<img") || strings.Contains(dom, "<script") {
		t.Errorf("the hostile name became markup in the browser's DOM")
	}
	if strings.Contains(dom, "<title>pwned") {
		t.Errorf("a script ran in the page")
	}
	if !strings.Contains(dom, "&lt;img src=x") {
		t.Errorf("the hostile name is not shown as text")
	}

	// Without a configuration problem, a failed last call is the ISC
	// unhealthy banner.
	iscDown.Store(true)
	dom = headless(t, bin, srv.URL+"/", "--dump-dom")
	if want := `<p class="banner" id="isc-unhealthy" role="alert">ISC unhealthy: the last call failed at`; !strings.Contains(dom, want) || !strings.Contains(dom, "503 Service Unavailable") {
		t.Errorf("the rendered page lacks the ISC unhealthy banner %q with the last error", want)
	}
	if strings.Contains(dom, `id="config-problem"`) {
		t.Errorf("a configuration problem banner without a configuration problem")
	}
	iscDown.Store(false)

	shot := filepath.Join(t.TempDir(), "status.png")
	headless(t, bin, srv.URL+"/", "--screenshot="+shot, "--window-size=1200,900")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 5000 {
		t.Errorf("screenshot %s: %v (size %d): the page did not render", shot, err, sizeOf(fi))
	}
	if dir := os.Getenv("INVITER_TEST_SCREENSHOTS"); dir != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(filepath.Join(dir, "status.png"), data, 0o644)
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
