package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// resultFields parses the key=value (and key≈value) fields of a RESULT line.
func resultFields(line string) map[string]string {
	f := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "RESULT ")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			k, v, ok = strings.Cut(kv, "≈")
		}
		if ok {
			f[k] = v
		}
	}
	return f
}

func atoi(t *testing.T, f map[string]string, key string) int {
	t.Helper()
	n, err := strconv.Atoi(f[key])
	if err != nil {
		t.Fatalf("%s=%q in %v: %v", key, f[key], f, err)
	}
	return n
}

// TestBench runs inviter bench with tiny numbers: every scenario must end,
// print its RESULT line, and count what happened consistently. It asserts
// no timing.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: it runs the daemon four times (CI runs it)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"bench", "--users", "600", "--events", "50", "--deliveries", "200", "--naive-sample", "10", "--batch-window", "100ms", "--timeout", "2m"}
	if err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s%s", err, out.String(), errOut.String())
	}
	var invite, ingest []map[string]string
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "RESULT ") {
			continue
		}
		f := resultFields(line)
		switch f["scenario"] {
		case "invite":
			invite = append(invite, f)
		case "ingest":
			ingest = append(ingest, f)
		default:
			t.Errorf("RESULT line of no known scenario: %s", line)
		}
	}
	if len(invite) != 2 || len(ingest) != 1 {
		t.Fatalf("got %d invite and %d ingest RESULT lines, want 2 and 1:\n%s", len(invite), len(ingest), out.String())
	}
	apis := map[string]bool{}
	for _, f := range invite {
		apis[f["api"]] = true
		events := atoi(t, f, "events")
		if events != 50 || atoi(t, f, "users") != 600 {
			t.Errorf("%s: users=%s events=%s, want 600 and 50", f["api"], f["users"], f["events"])
		}
		if got := atoi(t, f, "invited"); got != events {
			t.Errorf("%s: invited=%d, want %d", f["api"], got, events)
		}
		if got := atoi(t, f, "duplicates"); got != 0 {
			t.Errorf("%s: duplicates=%d", f["api"], got)
		}
		calls, inv, list, tok, other := atoi(t, f, "calls"), atoi(t, f, "invite_calls"), atoi(t, f, "list_calls"), atoi(t, f, "token_calls"), atoi(t, f, "other_calls")
		if calls <= 0 || inv <= 0 || tok <= 0 || calls != inv+list+tok+other {
			t.Errorf("%s: calls=%d invite=%d list=%d token=%d other=%d, want positive and adding up", f["api"], calls, inv, list, tok, other)
		}
		naive := atoi(t, f, "naive_calls")
		if naive < events {
			t.Errorf("%s: naive_calls=%d, want at least one per event", f["api"], naive)
		}
		if calls >= naive {
			t.Errorf("%s: calls=%d, naive_calls=%d: batching saved nothing", f["api"], calls, naive)
		}
	}
	if !apis["public"] || !apis["cc"] {
		t.Errorf("invite RESULT lines for %v, want public and cc", apis)
	}
	if !strings.Contains(out.String(), "(sampled 10 events)") {
		t.Errorf("the sampled naive cc count is not marked as such:\n%s", out.String())
	}
	f := ingest[0]
	if f["backend"] != "sqlite" || atoi(t, f, "senders") != 16 {
		t.Errorf("ingest backend=%s senders=%s, want sqlite and 16", f["backend"], f["senders"])
	}
	if d, a, s := atoi(t, f, "deliveries"), atoi(t, f, "acked"), atoi(t, f, "stored"); d != 200 || a != d || s != d {
		t.Errorf("ingest deliveries=%d acked=%d stored=%d, want 200 each", d, a, s)
	}
}

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--api", "soap"},
		{"bench", "--scenario", "everything"},
		{"bench", "--events", "0"},
		{"bench", "--rate", "fast"},
		{"bench", "--scenario", "scale", "--scale-users", "10k"},
		{"bench", "--scenario", "scale", "--scale-waves", "0"},
		{"bench", "--daemon", "thread"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out)
		if exitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}
