package web_test

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/web"
)

// FuzzWebhook sends any body, with any Content-Encoding and gzip or not,
// to both webhooks with a working intake, and checks the answer: never 5xx;
// 2xx only when the intake accepted the delivery, which it got once, as
// decoded; every 4xx leaves the intake untouched and says why in one line.
func FuzzWebhook(f *testing.F) {
	for _, s := range []string{
		validEvent,
		`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20642","name":"Michael Michaels"},"attributes":{"firstname":"John"}}`,
		`{"identity":{"id":"abc"},"changes":[{"attribute":"department","oldValue":"a","newValue":"b"}]}`,
		"\ufeff" + validEvent, validEvent + "]", `{"IDENTITY":{"id":"x"}}`, `{"identity":{"id":"a\u0000"}}`,
		"{\"identity\":{\"id\":\"\xc3\x28\"}}", ``, `[]`,
	} {
		f.Add([]byte(s), "", false, uint8(0), false)
		f.Add([]byte(s), "gzip", true, uint8(0), true)
	}
	f.Add([]byte(validEvent), "br", false, uint8(0), false)
	f.Add([]byte(validEvent), "gzip", false, uint8(0), false)
	f.Add([]byte(validEvent), "", false, uint8(1), false)
	f.Add([]byte(validEvent), "identity, gzip", true, uint8(2), false)

	// One handler for every input: inputs run one after the other in a
	// worker, and the intake is reset before each.
	b := setup(f, func(c *web.Config) {
		c.MaxBody = 4096
		c.Logger = slog.New(slog.DiscardHandler)
	})
	f.Fuzz(func(t *testing.T, body []byte, encoding string, compress bool, auth uint8, attributes bool) {
		b.intake.Reset()
		sent := body
		if compress {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			sent = buf.Bytes()
		}
		path := "/hooks/identity-created"
		if attributes {
			path = "/hooks/identity-attributes-changed"
		}
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(sent))
		if encoding != "" && !strings.ContainsAny(encoding, "\r\n\x00") {
			r.Header.Set("Content-Encoding", encoding)
		}
		switch auth % 3 {
		case 0:
			r.Header.Set("Authorization", "Bearer "+testToken)
		case 1:
			r.Header.Set("Authorization", "Bearer "+wrongSecret)
		}

		w := b.do(r)

		calls, attrCalls := b.intake.Calls(), b.intake.AttributeCalls()
		n := len(calls) + len(attrCalls)
		switch {
		case w.Code >= 500:
			t.Fatalf("%d %q for body %q (encoding %q, gzip %v)", w.Code, w.Body.String(), body, encoding, compress)
		case w.Code >= 200 && w.Code < 300:
			if n != 1 {
				t.Fatalf("%d with %d intake calls, want 1", w.Code, n)
			}
			if auth%3 != 0 {
				t.Fatalf("%d without the right credentials", w.Code)
			}
			if len(calls) == 1 {
				raw := calls[0].Raw
				if ev, err := inviter.ParseIdentityCreated(raw); err != nil || ev.Identity != calls[0].Event.Identity {
					t.Fatalf("the intake got %q, which parses to %+v, %v; the event was %+v", raw, ev.Identity, err, calls[0].Event.Identity)
				}
				if bytes.HasPrefix(raw, []byte("\ufeff")) {
					t.Fatalf("the intake got the byte order mark")
				}
			}
		case w.Code >= 400:
			if n != 0 {
				t.Fatalf("%d %q, but the intake was called %d times", w.Code, w.Body.String(), n)
			}
			if reason := strings.TrimSuffix(w.Body.String(), "\n"); reason == "" || strings.ContainsAny(reason, "\r\n") {
				t.Fatalf("%d without a one-line reason: %q", w.Code, w.Body.String())
			}
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}
