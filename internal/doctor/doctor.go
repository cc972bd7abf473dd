// Package doctor checks what inviter needs, one result per check: the
// tenant answers, the credentials get a token, the token's rights cover
// every feature in use, the /cc API answers, the trigger subscriptions
// exist and point at the daemon, how many unregistered identities share
// an email address, and that a test event reaches the daemon. It reads
// and tests only: it never invites anyone.
package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
)

// Level is how a check came out.
type Level string

// The levels of a Result.
const (
	OK   Level = "ok"
	Warn Level = "warn"
	Fail Level = "fail"
	Skip Level = "skip"
)

// Result is how one check came out.
type Result struct {
	Level  Level  `json:"level"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
	// Fix says what to do; empty for a check that passed.
	Fix string `json:"fix,omitempty"`
}

// Deliveries is the daemon's record of ISC's test events. It is
// *store.DB's.
type Deliveries interface {
	// TestDeliveries returns how many test events arrived, and when the
	// last one did.
	TestDeliveries(ctx context.Context) (int64, time.Time, error)
}

// Config is what Run checks.
type Config struct {
	// ISC is the tenant's settings; its Timeout bounds the token request.
	ISC isc.Config
	// Client is an ISC client made of ISC.
	Client *isc.Client
	// API is the invite path in use.
	API inviter.API
	// Changes is set when the policy makes Identity Attributes Changed
	// worth having (it has rules).
	Changes bool
	// Targets are the subscriptions the daemon's public URL stands for;
	// none when the URL is unknown (the subscriptions may then point
	// anywhere).
	Targets []subscription.Target
	// DB is the running daemon's database; nil skips the test event.
	DB Deliveries
	// DBErr, when set, says why the daemon's database could not be
	// opened; Run reports it first, as a warning.
	DBErr error
	// Wait is how long to wait for the test event to reach DB.
	Wait time.Duration
	// Emit, when set, is called with each result as it comes.
	Emit func(Result)
}

// Run runs the checks in order and returns their results; a check that
// needs what an earlier one found missing is skipped.
func Run(ctx context.Context, cfg Config) []Result {
	d := &doctor{cfg: cfg}
	if cfg.DBErr != nil {
		d.add(Warn, "daemon", cfg.DBErr.Error(), "point --db at the database of the running inviter serve")
	}
	d.run(ctx)
	return d.results
}

// Count returns how many of results came out at level l.
func Count(results []Result, l Level) int {
	n := 0
	for _, r := range results {
		if r.Level == l {
			n++
		}
	}
	return n
}

type doctor struct {
	cfg     Config
	results []Result
}

func (d *doctor) add(l Level, check, detail, fix string) {
	r := Result{Level: l, Check: check, Detail: detail, Fix: fix}
	d.results = append(d.results, r)
	if d.cfg.Emit != nil {
		d.cfg.Emit(r)
	}
}

func (d *doctor) run(ctx context.Context) {
	p := isc.ProbeToken(ctx, d.cfg.ISC, d.cfg.ISC.Timeout)
	if !d.checkReach(p) || !d.checkToken(p) {
		for _, c := range []string{"rights", "subscriptions", "shared emails", "test event"} {
			d.add(Skip, c, "needs a token", "")
		}
		return
	}
	d.checkRights(ctx, p)
	if d.cfg.API == inviter.APICC {
		d.checkCC(ctx)
	}
	subsOK := d.checkSubscriptions(ctx)
	d.checkSharedEmails(ctx)
	d.checkTestEvent(ctx, subsOK)
}

func (d *doctor) checkReach(p isc.TokenProbe) bool {
	base := redact.URL(d.cfg.ISC.BaseURL)
	if !p.Reached {
		d.add(Fail, "tenant answers", p.Err.Error(), "check SAIL_BASE_URL (https://TENANT.api.identitynow.com), DNS and the proxy or firewall")
		return false
	}
	d.add(OK, "tenant answers", fmt.Sprintf("%s answered POST /oauth/token (%d)", base, p.Status), "")
	return true
}

func (d *doctor) checkToken(p isc.TokenProbe) bool {
	switch {
	case p.Refused:
		d.add(Fail, "credentials", p.Err.Error(), "check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET: the client id and secret of a personal access token of an ORG_ADMIN or HELPDESK user")
		return false
	case p.Err != nil:
		d.add(Fail, "credentials", p.Err.Error(), "check SAIL_BASE_URL: it must be the tenant's API host")
		return false
	}
	scopes := strings.Join(p.Scopes, " ")
	if scopes == "" {
		scopes = "-"
	}
	d.add(OK, "credentials", fmt.Sprintf("token issued (scopes: %s)", scopes), "")
	return true
}
