package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter/internal/storetest"
)

// TestNegativeMaxRetryAfterIsAUsageError: a negative --max-retry-after (or
// INVITER_MAX_RETRY_AFTER) stops serve and invite at start-up with exit 2
// naming the setting.
func TestNegativeMaxRetryAfterIsAUsageError(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"SAIL_BASE_URL": "http://127.0.0.1:1", "SAIL_CLIENT_ID": "id", "SAIL_CLIENT_SECRET": "secret",
		"INVITER_WEBHOOK_TOKEN": randomToken(),
	}
	envNeg := map[string]string{"INVITER_MAX_RETRY_AFTER": "-1s"}
	for k, v := range env {
		envNeg[k] = v
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"serve flag", env, serveArgs("127.0.0.1:0", storetest.SQLiteDSN(t), "--max-retry-after", "-1s")},
		{"serve env", envNeg, serveArgs("127.0.0.1:0", storetest.SQLiteDSN(t))},
		{"invite flag", env, []string{"invite", "--max-retry-after", "-1s", "--yes", "2c91808568c529c60168cca6f90c1399"}},
	} {
		// A serve that starts runs until its context ends: keep that short.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		res := runInviter(t, ctx, tc.env, tc.args...)
		cancel()
		if exitCode(res.err) != 2 || !strings.Contains(res.err.Error(), "--max-retry-after (INVITER_MAX_RETRY_AFTER) must not be negative") {
			t.Errorf("%s: %v (exit %d), want exit 2 naming --max-retry-after", tc.name, res.err, exitCode(res.err))
		}
	}
}
