package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
)

// fuzzDelivery is one generated webhook delivery.
type fuzzDelivery struct {
	path     string
	body     []byte
	encoding string
	kind     string
	// id and stored, when id is set, are the identity and the payload the
	// database must hold if the delivery is answered 200 (the body as the
	// intake gets it: decompressed, without a byte order mark).
	id     string
	stored []byte
}

// fuzzStrings are the odd strings names, attributes and keys are drawn from.
var fuzzStrings = []string{
	"Wanda Joiner", "", " ", "O'Brien \"Bob\"", `back\slash`, "élève Ünal", "李小龙", "😀 emoji",
	"\u202eRTL override", "tab\there", "line\nbreak", "\u0001\u001f\u007f", "\u00a0nbsp", "\ufeffbom inside",
	"<script>alert(1)</script>", "' OR 1=1 --", strings.Repeat("long ", 2000),
}

// fuzzedDeliveries generates n deliveries from seed: valid events of every
// shape and the malformed ones an attacker or a broken proxy would send
// (bad UTF-8, \u0000, trailing data, other key cases, long or control-laden
// ids, flipped bytes, truncation, deep nesting, odd encodings).
func fuzzedDeliveries(n int, seed uint64) []fuzzDelivery {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func() string { return fuzzStrings[rng.IntN(len(fuzzStrings))] }
	js := func(s string) string {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	out := make([]fuzzDelivery, 0, n)
	for i := range n {
		id := fmt.Sprintf("2c9180%026x", rng.Uint64()^uint64(i)<<40)
		name := pick()
		attrs := fmt.Sprintf(`{"email":%s,"department":%s,"n":%d,"f":%g,"b":%v,"nil":null,"list":[%s,1,true],"obj":{%s:%s}}`,
			js(pick()), js(pick()), rng.IntN(1000), rng.Float64()*1e6, rng.IntN(2) == 1, js(pick()), js(pick()), js(pick()))
		d := fuzzDelivery{path: "/hooks/identity-created", kind: "valid"}
		body := fmt.Sprintf(`{"identity":{"type":"IDENTITY","id":%s,"name":%s},"attributes":%s}`, js(id), js(name), attrs)
		if rng.IntN(10) == 0 {
			d.path = "/hooks/identity-attributes-changed"
			body = fmt.Sprintf(`{"identity":{"type":"IDENTITY","id":%s,"name":%s},"changes":[{"attribute":%s,"oldValue":%s,"newValue":%s}]}`,
				js(id), js(name), js(pick()+"x"), js(pick()), attrs)
		}
		keep := true // the body stays a valid event with this id
		switch rng.IntN(24) {
		case 0:
			d.kind, body = "bom", "\ufeff"+body
		case 1:
			d.kind, d.encoding = "gzip", "gzip"
		case 2:
			d.kind, body, keep = "trailing", body+[]string{"]", "}", " {}", "x", ",", "\x00"}[rng.IntN(6)], false
		case 3:
			d.kind, body, keep = "key case", strings.Replace(body, `"identity"`, []string{`"IDENTITY"`, `"Identity"`, `"identitY"`}[rng.IntN(3)], 1), false
		case 4:
			d.kind, body, keep = "long id", strings.Replace(body, js(id), js(strings.Repeat("a", 129+rng.IntN(500))), 1), false
		case 5:
			d.kind, body, keep = "control id", strings.Replace(body, js(id), js(id[:5]+string(rune(rng.IntN(32)))+id[5:]), 1), false
		case 6:
			d.kind, body, keep = "nul", strings.Replace(body, js(name), js(name+"\x00"), 1), false
		case 7:
			d.kind, body, keep = "nul key", strings.Replace(body, `"email"`, `"em\u0000ail"`, 1), false
		case 8:
			d.kind, keep = "bad utf-8", false
			bad := []string{"\xff", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf"}[rng.IntN(6)]
			body = strings.Replace(body, `"department":"`, `"department":"`+bad, 1)
		case 9:
			d.kind, keep = "flipped", false
			b := []byte(body)
			for range 1 + rng.IntN(5) {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
			body = string(b)
		case 10:
			d.kind, body, keep = "truncated", body[:rng.IntN(len(body))], false
		case 11:
			depth := 50 + rng.IntN(2000)
			d.kind, body = "deep", strings.Replace(body, `"nil":null`, `"deep":`+strings.Repeat("[", depth)+strings.Repeat("]", depth), 1)
		case 12:
			d.kind, body, keep = "huge number", strings.Replace(body, `"nil":null`, `"big":1e400`, 1), false
		case 13:
			d.kind, body = "tiny number", strings.Replace(body, `"nil":null`, `"small":1e-400,"neg":-0`, 1)
		case 14:
			d.kind, body, keep = "lone surrogate", strings.Replace(body, js(name), `"\ud800 and \udfff"`, 1), true
		case 15:
			d.kind, body = "astral escape", strings.Replace(body, js(name), `"\ud83d\ude00 \u00e9"`, 1)
		case 16:
			d.kind, body, keep = "raw control char", strings.Replace(body, js(name), "\"a\tb\"", 1), false
		case 17:
			d.kind, body, keep = "duplicate key", strings.Replace(body, `"nil":null`, `"dup":1,"dup":2`, 1), false // ambiguous: 400
		case 18:
			d.kind, body, keep = "other type", strings.Replace(body, `"IDENTITY"`, `"ACCOUNT"`, 1), false
		case 19:
			d.kind, d.encoding, keep = "unsupported encoding", []string{"br", "deflate", "compress", "zstd"}[rng.IntN(4)], false
		case 20:
			d.kind, d.encoding, keep = "gzip header, plain body", "gzip", false
		case 21:
			d.kind, body, keep = "not an object", []string{`[]`, `null`, `"x"`, `42`, ``, `{}`, `{"identity":null}`}[rng.IntN(7)], false
		}
		if keep {
			d.id, d.stored = id, []byte(strings.TrimPrefix(body, "\ufeff"))
		}
		d.body = []byte(body)
		if d.kind == "gzip" {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(d.body)
			zw.Close()
			d.body = buf.Bytes()
		}
		out = append(out, d)
	}
	return out
}

// TestFuzzedDeliveriesNever5xx sends 5,000 generated deliveries, valid and
// malformed, to a real serve with each backend: not one is answered 5xx;
// every 2xx is stored (its payload as sent, decoded) and every 4xx stores
// nothing.
func TestFuzzedDeliveriesNever5xx(t *testing.T) {
	t.Parallel()
	const n = 5000
	deliveries := fuzzedDeliveries(n, 20261201)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			tenant := isctest.NewServer(isctest.Options{Users: 1})
			t.Cleanup(tenant.Close)
			// The generated identities do not exist in the tenant: a long
			// not-found window keeps their jobs waiting quietly.
			d := startServe(t, tenant, dsn, "--reconcile-every", "0", "--not-found-window", "1h")

			status := make([]int, n)
			reasons := make([]string, n)
			var wg sync.WaitGroup
			next := make(chan int)
			for range 8 {
				wg.Go(func() {
					for i := range next {
						dl := deliveries[i]
						req, _ := http.NewRequest(http.MethodPost, d.url+dl.path, bytes.NewReader(dl.body))
						req.Header.Set("Authorization", "Bearer "+d.token)
						req.Header.Set("Content-Type", "application/json")
						if dl.encoding != "" {
							req.Header.Set("Content-Encoding", dl.encoding)
						}
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							reasons[i] = err.Error()
							continue
						}
						msg, _ := io.ReadAll(res.Body)
						res.Body.Close()
						status[i], reasons[i] = res.StatusCode, string(msg)
					}
				})
			}
			for i := range n {
				next <- i
			}
			close(next)
			wg.Wait()

			byKind := map[string]map[int]int{}
			ok, fiveXX := 0, 0
			for i, dl := range deliveries {
				if byKind[dl.kind] == nil {
					byKind[dl.kind] = map[int]int{}
				}
				byKind[dl.kind][status[i]]++
				switch {
				case status[i] == 0:
					t.Errorf("delivery %d (%s): no answer: %s", i, dl.kind, reasons[i])
				case status[i] >= 500:
					fiveXX++
					if fiveXX <= 5 {
						t.Errorf("delivery %d (%s) answered %d %q; body %q", i, dl.kind, status[i], reasons[i], dl.body)
					}
				case status[i] == http.StatusOK:
					ok++
				case status[i] >= 400 && strings.TrimSpace(reasons[i]) == "":
					t.Errorf("delivery %d (%s) answered %d without a reason", i, dl.kind, status[i])
				}
				if dl.id != "" && status[i] != http.StatusOK {
					t.Errorf("delivery %d (%s), a valid event, answered %d %q", i, dl.kind, status[i], reasons[i])
				}
			}
			t.Logf("%d deliveries: %d answered 200, %d 5xx; by kind: %v", n, ok, fiveXX, byKind)

			db := reopen(t, d, dsn)
			c, err := db.Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Deliveries != int64(ok) {
				t.Errorf("%d deliveries stored, want the %d answered 200", c.Deliveries, ok)
			}
			checked := 0
			for i, dl := range deliveries {
				if dl.id == "" || status[i] != http.StatusOK || i%10 != 0 {
					continue
				}
				checked++
				got, err := db.Deliveries(context.Background(), dl.id, 1)
				if err != nil || len(got) != 1 {
					t.Errorf("delivery %d (%s) of %s: %v, %d stored", i, dl.kind, dl.id, err, len(got))
					continue
				}
				if !bytes.Equal(got[0].Payload, dl.stored) {
					t.Errorf("delivery %d (%s): stored %q, want %q", i, dl.kind, got[0].Payload, dl.stored)
				}
			}
			if checked == 0 {
				t.Error("no stored payload was checked")
			}
		})
	}
}
