package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
)

// ReconcileConfig is what one reconciliation outside the daemon needs.
type ReconcileConfig struct {
	// ISC is the SailPoint client's configuration.
	ISC isc.Config
	// DB is the database: a SQLite file path or a postgres:// URL. It is
	// migrated first.
	DB string
	// Policy decides whom to invite and when; nil: everyone, now.
	Policy *policy.Policy
	// Since is the cut-off; zero: the database's initialisation.
	Since time.Time
	// MaxReinvites is how many times one identity is re-invited.
	MaxReinvites int
	// Logger receives the logs; nil: none.
	Logger *slog.Logger
}

// ReconcileResult is what one ReconcileOnce did.
type ReconcileResult struct {
	Reconcile reconcile.Report
	Reinvite  reconcile.ReinviteReport
}

// ReconcileOnce reconciles once and then enqueues the re-invites that are
// due, on the database cfg names; a running daemon on that database sends
// the invites.
func ReconcileOnce(ctx context.Context, cfg ReconcileConfig) (ReconcileResult, error) {
	var res ReconcileResult
	client, err := isc.New(ctx, cfg.ISC)
	if err != nil {
		return res, err
	}
	d, err := store.Open(ctx, cfg.DB, cfg.Logger)
	if err != nil {
		return res, fmt.Errorf("opening the database (INVITER_DB): %w", err)
	}
	defer d.Close()
	if err := queue.Migrate(ctx, d); err != nil {
		return res, err
	}
	q, err := queue.New(d, queue.Config{InsertOnly: true}, nil, nil, cfg.Logger)
	if err != nil {
		return res, err
	}
	r := &reconcile.Reconciler{ISC: client, DB: d, Queue: q, Policy: cfg.Policy, Since: cfg.Since, Logger: cfg.Logger}
	if res.Reconcile, err = r.Reconcile(ctx); err != nil {
		return res, err
	}
	ri := &reconcile.Reinviter{ISC: client, DB: d, Queue: q, MaxReinvites: cfg.MaxReinvites, Policy: cfg.Policy, Logger: cfg.Logger}
	res.Reinvite, err = ri.Reinvite(ctx)
	return res, err
}
