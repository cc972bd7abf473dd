package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on machines without a zoneinfo database
)

// now is the fixed clock of the scheduling tests: a Sunday afternoon.
var now = time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return p
}

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestZeroPolicyInvitesEveryoneNow(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]*Policy{"zero": {}, "nil": nil, "New(Config{})": mustNew(t, Config{})} {
		d := p.Decide(map[string]any{"startDate": "2099-01-01"}, now)
		if !d.Invite || !d.At.IsZero() || d.Reason == "" || d.Warning != "" {
			t.Errorf("%s: Decide = %+v, want invite now with a reason", name, d)
		}
		if ok, _ := p.BecameEligible([]Change{{"cloudLifecycleState", nil, "active"}}); ok {
			t.Errorf("%s: BecameEligible = true, want false (it matched before)", name)
		}
		if got := p.String(); got != "invite everyone now" {
			t.Errorf("%s: String = %q", name, got)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{InviteDaysBefore: 3})
	if err == nil || !strings.Contains(err.Error(), "StartDateAttribute") {
		t.Errorf("New with days but no start date attribute: %v, want an error naming StartDateAttribute", err)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	rules := []string{"cloudLifecycleState in (active, prehire)"}
	utc7 := Config{Rules: rules, StartDateAttribute: "startDate"} // default 7 days, UTC
	tests := []struct {
		name        string
		cfg         Config
		attrs       string
		invite      bool
		at          time.Time // zero: now
		reason      string    // substring
		wantWarning string    // substring; empty: no warning
	}{
		{name: "filtered out", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"inactive","startDate":"2025-07-01"}`,
			reason: `cloudLifecycleState "inactive" not in [active prehire]`},
		{name: "no scheduling", cfg: Config{Rules: rules},
			attrs:  `{"cloudLifecycleState":"active","startDate":"2025-07-01"}`,
			invite: true, reason: "matches all rules"},
		{name: "date only 30 days away", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01"}`,
			invite: true, at: time.Date(2025, 6, 24, 9, 0, 0, 0, time.UTC),
			reason: "matches all rules; startDate 2025-07-01: invite 7 days before"},
		{name: "RFC 3339 30 days away", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01T15:00:00Z"}`,
			invite: true, at: now.Add(23 * 24 * time.Hour)},
		{name: "RFC 3339 with offset and millis", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01T08:30:00.000-05:00"}`,
			invite: true, at: time.Date(2025, 6, 24, 13, 30, 0, 0, time.UTC)},
		{name: "offset without colon", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01T08:30:00+0200"}`,
			invite: true, at: time.Date(2025, 6, 24, 6, 30, 0, 0, time.UTC)},
		{name: "US date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"07/01/2025"}`,
			invite: true, at: time.Date(2025, 6, 24, 9, 0, 0, 0, time.UTC)},
		{name: "US date one digit", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"7/1/2025"}`,
			invite: true, at: time.Date(2025, 6, 24, 9, 0, 0, 0, time.UTC)},
		{name: "compact date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"20250701"}`,
			invite: true, at: time.Date(2025, 6, 24, 9, 0, 0, 0, time.UTC)},
		{name: "no zone", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01T08:00:00"}`,
			invite: true, at: time.Date(2025, 6, 24, 8, 0, 0, 0, time.UTC)},
		{name: "no zone with space and fraction", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01 08:00:00.5"}`,
			invite: true, at: time.Date(2025, 6, 24, 8, 0, 0, 5e8, time.UTC)},
		{name: "epoch millis number", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":1751270400000}`, // 2025-06-30T08:00:00Z
			invite: true, at: time.Date(2025, 6, 23, 8, 0, 0, 0, time.UTC)},
		{name: "epoch millis string", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"1751270400000"}`,
			invite: true, at: time.Date(2025, 6, 23, 8, 0, 0, 0, time.UTC)},
		{name: "3 days", cfg: Config{Rules: rules, StartDateAttribute: "startDate", InviteDaysBefore: 3},
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01"}`,
			invite: true, at: time.Date(2025, 6, 28, 9, 0, 0, 0, time.UTC), reason: "invite 3 days before"},
		{name: "on the start date", cfg: Config{Rules: rules, StartDateAttribute: "startDate", InviteDaysBefore: OnStartDate},
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01"}`,
			invite: true, at: time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)},
		{name: "date only in a location", cfg: Config{Rules: rules, StartDateAttribute: "startDate", Location: berlin(t)},
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01"}`,
			invite: true, at: time.Date(2025, 6, 24, 7, 0, 0, 0, time.UTC)}, // 09:00 CEST
		{name: "across the DST change keeps 09:00", cfg: Config{Rules: rules, StartDateAttribute: "startDate", Location: berlin(t)},
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2026-04-01"}`, // CEST; 7 days before is CET
			invite: true, at: time.Date(2026, 3, 25, 8, 0, 0, 0, time.UTC)},
		{name: "no zone in a location", cfg: Config{Rules: rules, StartDateAttribute: "startDate", Location: berlin(t)},
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-07-01T10:00:00"}`,
			invite: true, at: time.Date(2025, 6, 24, 8, 0, 0, 0, time.UTC)},
		{name: "start date passed", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"active","startDate":"2025-05-01"}`,
			invite: true, reason: "startDate 2025-05-01 is less than 7 days away: invite now"},
		{name: "start date closer than N days", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-06-05"}`,
			invite: true, reason: "less than 7 days away"},
		{name: "invite time exactly now", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-06-08T15:00:00Z"}`,
			invite: true},
		{name: "one second after now", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-06-08T15:00:01Z"}`,
			invite: true, at: now.Add(time.Second)},
		{name: "missing start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire"}`,
			invite: true, reason: "no startDate: invite now"},
		{name: "null start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":null}`,
			invite: true, reason: "no startDate"},
		{name: "empty start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":""}`,
			invite: true, reason: "no startDate"},
		{name: "malformed start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"next monday"}`,
			invite: true, wantWarning: `start date startDate "next monday" is not a date`},
		{name: "impossible date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"2025-02-30"}`,
			invite: true, wantWarning: "is not a date"},
		{name: "day first date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":"30/06/2025"}`,
			invite: true, wantWarning: "is not a date"},
		{name: "boolean start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":true}`,
			invite: true, wantWarning: "a JSON boolean"},
		{name: "array start date", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":["2025-07-01"]}`,
			invite: true, wantWarning: "a JSON array"},
		{name: "number that is no epoch millis", cfg: utc7,
			attrs:  `{"cloudLifecycleState":"prehire","startDate":20250701}`,
			invite: true, wantWarning: "out of range for epoch milliseconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustNew(t, tt.cfg)
			d := p.Decide(attrsOf(t, tt.attrs), now)
			if d.Invite != tt.invite || !d.At.Equal(tt.at) {
				t.Errorf("Decide = %+v\nwant Invite %v At %v", d, tt.invite, tt.at)
			}
			if d.Reason == "" || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to hold %q", d.Reason, tt.reason)
			}
			if tt.wantWarning == "" && d.Warning != "" || !strings.Contains(d.Warning, tt.wantWarning) {
				t.Errorf("Warning = %q, want %q", d.Warning, tt.wantWarning)
			}
			if !d.At.IsZero() && !d.At.After(now) {
				t.Errorf("At %v is not after now", d.At)
			}
		})
	}
}

// TestThirtyDaysAway: a pre-hire created 30 days before the start date is
// invited 23 days later, so the 7-day link is still valid on the first day.
func TestThirtyDaysAway(t *testing.T) {
	t.Parallel()
	p := mustNew(t, Config{Rules: []string{"cloudLifecycleState = prehire"}, StartDateAttribute: "startDate", InviteDaysBefore: 7})
	start := now.AddDate(0, 0, 30)
	for _, v := range []any{start.Format(time.DateOnly), start.Format(time.RFC3339), float64(start.UnixMilli())} {
		d := p.Decide(map[string]any{"cloudLifecycleState": "prehire", "startDate": v}, now)
		want := now.AddDate(0, 0, 23)
		if d.At.Format(time.DateOnly) != want.Format(time.DateOnly) {
			t.Errorf("startDate %v: At = %v, want on %s", v, d.At, want.Format(time.DateOnly))
		}
		// The 7-day link is still valid when the first day begins.
		firstDay := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
		if d.At.AddDate(0, 0, 7).Before(firstDay) {
			t.Errorf("startDate %v: At = %v: the link expires before the first day", v, d.At)
		}
	}
}

func TestDefaultDays(t *testing.T) {
	t.Parallel()
	a := mustNew(t, Config{StartDateAttribute: "startDate"}).Decide(map[string]any{"startDate": "2025-07-01"}, now)
	b := mustNew(t, Config{StartDateAttribute: "startDate", InviteDaysBefore: DefaultInviteDaysBefore}).Decide(map[string]any{"startDate": "2025-07-01"}, now)
	if !a.At.Equal(b.At) || a.At.IsZero() {
		t.Errorf("InviteDaysBefore 0: At %v; %d: At %v", a.At, DefaultInviteDaysBefore, b.At)
	}
}

func TestGoTimeStartDate(t *testing.T) {
	t.Parallel()
	p := mustNew(t, Config{StartDateAttribute: "startDate"})
	d := p.Decide(map[string]any{"startDate": now.AddDate(0, 0, 30)}, now)
	if want := now.AddDate(0, 0, 23); !d.At.Equal(want) {
		t.Errorf("At = %v, want %v", d.At, want)
	}
}

func TestBecameEligible(t *testing.T) {
	t.Parallel()
	lifecycle := []string{"cloudLifecycleState in (active, prehire)"}
	two := []string{"cloudLifecycleState = active", "department != Contractors"}
	tests := []struct {
		name    string
		rules   []string
		changes string // JSON of the event's changes
		want    bool
		reason  string // substring
	}{
		{"to a configured state", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"inactive","newValue":"active"}]`,
			true, `now matches the rules on [cloudLifecycleState]; before the change cloudLifecycleState "inactive" not in [active prehire]`},
		{"from null to a configured state", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":null,"newValue":"prehire"}]`,
			true, "cloudLifecycleState is null"},
		{"old value left out", lifecycle,
			`[{"attribute":"cloudLifecycleState","newValue":"prehire"}]`,
			true, ""},
		{"other attribute", lifecycle,
			`[{"attribute":"title","oldValue":"Clerk","newValue":"Manager"}]`,
			false, "no rule is on the changed attributes [title]"},
		{"allowed to allowed", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"}]`,
			false, "matched before the change"},
		{"allowed to excluded", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"active","newValue":"inactive"}]`,
			false, `does not match after the change: cloudLifecycleState "inactive" not in [active prehire]`},
		{"excluded to excluded", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"inactive","newValue":"terminated"}]`,
			false, "does not match after the change"},
		{"case only", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"Active","newValue":"active"}]`,
			false, "matched before"},
		{"no changes", lifecycle, `[]`, false, "no rule is on the changed attributes []"},
		{"one of two rules, the other unknown", two,
			`[{"attribute":"department","oldValue":"Contractors","newValue":"Sales"}]`,
			true, `department "Contractors" equals excluded "Contractors"`},
		{"both rules: one now fails", two,
			`[{"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"},
			  {"attribute":"department","oldValue":"Sales","newValue":"Contractors"}]`,
			false, "does not match after the change"},
		{"both rules now hold", two,
			`[{"attribute":"title","oldValue":"a","newValue":"b"},
			  {"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"},
			  {"attribute":"department","oldValue":"Contractors","newValue":"Sales"}]`,
			true, "[cloudLifecycleState department]"},
		{"attribute twice: first old, last new", lifecycle,
			`[{"attribute":"cloudLifecycleState","oldValue":"inactive","newValue":"terminated"},
			  {"attribute":"cloudLifecycleState","oldValue":"terminated","newValue":"active"}]`,
			true, `"inactive"`},
		{"multi-valued attribute gains a value", []string{"groups = Staff"},
			`[{"attribute":"groups","oldValue":["Guests"],"newValue":["Guests","Staff"]}]`,
			true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var changes []Change
			if err := json.Unmarshal([]byte(tt.changes), &changes); err != nil {
				t.Fatal(err)
			}
			got, why := mustNew(t, Config{Rules: tt.rules}).BecameEligible(changes)
			if got != tt.want || !strings.Contains(why, tt.reason) || why == "" {
				t.Errorf("BecameEligible = %v, %q\nwant %v, %q", got, why, tt.want, tt.reason)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "invite everyone now"},
		{Config{Rules: []string{"cloudLifecycleState IN (active,prehire)", `department!="Contractors"`}},
			"invite if cloudLifecycleState in (active, prehire) and department != Contractors now"},
		{Config{Rules: []string{"email present"}, StartDateAttribute: "startDate"},
			"invite if email present; 7 days before startDate (date-only at 09:00 UTC)"},
		{Config{StartDateAttribute: "startDate", InviteDaysBefore: OnStartDate, Location: berlin(t)},
			"invite everyone; on startDate (date-only at 09:00 Europe/Berlin)"},
		{Config{StartDateAttribute: "hireDate", InviteDaysBefore: 1},
			"invite everyone; 1 day before hireDate (date-only at 09:00 UTC)"},
	}
	for _, tt := range tests {
		if got := mustNew(t, tt.cfg).String(); got != tt.want {
			t.Errorf("String() = %q\nwant %q", got, tt.want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := mustNew(b, Config{
		Rules: []string{
			"cloudLifecycleState in (active, prehire)",
			"department not in (Contractors, Vendors)",
			"email present",
			`email ~ @example\.com$`,
		},
		StartDateAttribute: "startDate",
	})
	event := `{"firstname":"John","lastname":"Doe","displayName":"John Doe","email":"john.doe@example.com",
		"cloudLifecycleState":"prehire","department":"Sales","uid":"jdoe","employeeNumber":1234,
		"startDate":"2025-07-01","manager":{"id":"2c9180","name":"Jane"}}`
	b.Run("scheduled", func(b *testing.B) {
		attrs := attrsOf(b, event)
		b.ReportAllocs()
		for b.Loop() {
			if d := p.Decide(attrs, now); d.At.IsZero() {
				b.Fatal(d)
			}
		}
	})
	b.Run("filtered", func(b *testing.B) {
		attrs := attrsOf(b, event)
		attrs["cloudLifecycleState"] = "inactive"
		b.ReportAllocs()
		for b.Loop() {
			if d := p.Decide(attrs, now); d.Invite {
				b.Fatal(d)
			}
		}
	})
}
