package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter/isctest"
)

// result is what one run of the program did.
type result struct {
	err    error
	stdout string
	stderr string
}

// runInviter runs the program with args and the environment env.
func runInviter(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(ctx, args, getenv, strings.NewReader(""), &stdout, &stderr)
	return result{err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// tenantEnv is the environment that points inviter at tenant.
func tenantEnv(tenant *isctest.Server) map[string]string {
	return map[string]string{
		"SAIL_BASE_URL":      tenant.URL(),
		"SAIL_CLIENT_ID":     tenant.ClientID(),
		"SAIL_CLIENT_SECRET": tenant.ClientSecret(),
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestVersionPrintsCommitAndBuildTime(t *testing.T) {
	r := runInviter(t, testContext(t), nil, "version")
	if r.err != nil || !strings.HasPrefix(r.stdout, "inviter ") || !strings.Contains(r.stdout, "commit ") || !strings.Contains(r.stdout, "built ") {
		t.Fatalf("version: %v\n%s", r.err, r.stdout)
	}
}
