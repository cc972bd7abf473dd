package cliout

import (
	"strings"
	"testing"
	"time"
)

func TestOneLineAndAge(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                      "-",
		"short":                 "short",
		"first\nsecond":         "first…",
		strings.Repeat("x", 12): "xxxxxxxxx…",
	} {
		if got := OneLine(in, 10); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0: "just now", -42 * time.Second: "42s ago", -3 * time.Minute: "3m ago", -5 * time.Hour: "5h ago",
		-72 * time.Hour: "3d ago", 10 * time.Minute: "in 10m",
	} {
		if got := Age(now.Add(d), now); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
}
