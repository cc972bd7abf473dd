package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"userinfo", Userinfo(`dial "postgres://inviter:s3cret@db:5432/x" and https://u:p@h/path`), `dial "postgres://xxxxx@db:5432/x" and https://xxxxx@h/path`},
		{"no url", Userinfo("user@example.com wrote"), "user@example.com wrote"},
		{"url", URL("https://user:pw@acme.api.identitynow.com/"), "https://acme.api.identitynow.com/"},
		{"dsn", DSN("postgres://inviter:s3cret@127.0.0.1/inviter?sslmode=disable"), "postgres://inviter:xxxxx@127.0.0.1/inviter?sslmode=disable"},
		{"sqlite path", DSN("/var/lib/inviter/inviter.db"), "/var/lib/inviter/inviter.db"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestHandlerHidesPasswordsInEveryAttribute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler{slog.NewTextHandler(&buf, nil)}).With("db", "postgres://a:topsecret@h/db")
	log.Info("opening postgres://a:topsecret@h/db", "error", errors.New("dial postgres://a:topsecret@h/db"),
		slog.Group("g", "url", "https://a:topsecret@h"))
	if out := buf.String(); strings.Contains(out, "topsecret") || strings.Count(out, "xxxxx@h") != 4 {
		t.Fatalf("log line shows the password or lost a URL:\n%s", out)
	}
}
