package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/inviter/inviter/store"
)

// readReconcileRun fills rep with reconcile's last run: the run as the
// store records it (time, cut-off, how many it enqueued), or else the bare
// time reconcile records.
func readReconcileRun(ctx context.Context, d *store.DB, rep *statusReport) error {
	run, err := d.ReconcileRun(ctx)
	if err == nil {
		at := run.At.UTC().Format(time.RFC3339Nano)
		cut, n := run.CutOff.UTC(), run.Enqueued
		rep.ReconcileLastRun, rep.ReconcileCutOff, rep.ReconcileEnqueued = &at, &cut, &n
		return nil
	}
	v, merr := d.Meta(ctx, metaReconcileLastRun)
	switch {
	case errors.Is(merr, store.ErrNotFound):
		return nil
	case merr != nil:
		return fmt.Errorf("reading reconcile's last run: %w", merr)
	}
	if t, perr := time.Parse(time.RFC3339Nano, v); perr == nil {
		v = t.UTC().Format(time.RFC3339Nano)
	}
	rep.ReconcileLastRun = &v
	return nil
}

// countsRows writes a row of names and under it a row of their counts,
// aligned, after a label.
func countsRows(w io.Writer, label string, names []string, counts map[string]int64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%-10s", label)
	for _, s := range names {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintf(tw, "\n%-10s", "")
	for _, s := range names {
		fmt.Fprintf(tw, "\t%d", counts[s])
	}
	fmt.Fprint(tw, "\n")
	return tw.Flush()
}
