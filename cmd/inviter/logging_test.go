package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isctest"
)

func TestLogsRedactUserinfoAndQuietRiver(t *testing.T) {
	var buf bytes.Buffer
	l := logSettings{format: "json", level: "info"}
	app, river := l.loggers(&buf, false)
	app.Info("inviter starting", "isc", "https://user:s3cret@acme.api.identitynow.com/x", "err", errors.New("dial https://u:pw@h: refused"))
	app.Info("rivermigrate.Migrator: Applied migration", "version", 1)
	river.Info("producer: started")
	river.Warn("producer: slow")
	out := buf.String()
	if strings.Contains(out, "s3cret") || strings.Contains(out, "u:pw") || strings.Contains(out, "user:") {
		t.Errorf("userinfo logged:\n%s", out)
	}
	if strings.Contains(out, "Applied migration") || strings.Contains(out, "producer: started") || !strings.Contains(out, "producer: slow") {
		t.Errorf("River's INFO shown or its WARN hidden:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %s", line)
		}
	}
	buf.Reset()
	app, river = l.loggers(&buf, true)
	app.Debug("rivermigrate.Migrator: Applied migration")
	river.Debug("producer: started")
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("--debug: %d lines, want River's too:\n%s", n, buf.String())
	}
}

func TestRedactUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.api.identitynow.com":                     "https://acme.api.identitynow.com",
		"https://a:b@acme.api.identitynow.com/v3?x=@y":         "https://xxxxx@acme.api.identitynow.com/v3?x=@y",
		"postgres://inviter:pw@db:5432/inviter and http://t@h": "postgres://xxxxx@db:5432/inviter and http://xxxxx@h",
		"mail me at a@b.c":                                     "mail me at a@b.c",
	} {
		if got := redact.Userinfo(in); got != want {
			t.Errorf("redact.Userinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBaseURLPasswordNeverShown(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	env := serveEnv(tenant, t.TempDir())
	env["SAIL_BASE_URL"] = strings.Replace(tenant.URL(), "http://", "http://admin:hunter2-pw@", 1)
	env["SAIL_CLIENT_SECRET"] = "wrong-secret-value"
	r := runInviter(t, ctx, env, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--debug")
	if exitCode(r.err) != 2 {
		t.Fatalf("exit %d (%v), want 2", exitCode(r.err), r.err)
	}
	d := runInviter(t, ctx, env, "doctor")
	for _, out := range []string{r.err.Error(), r.stdout, r.stderr, d.stdout, d.stderr, d.err.Error()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("the base URL's password is shown: %s", out)
		}
	}
}
