package report

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/store"
)

// StatusReport is the status of a database as JSON shows it.
type StatusReport struct {
	Database      string    `json:"database"`
	Backend       string    `json:"backend"`
	InitialisedAt time.Time `json:"initialised_at"`
	// ReconcileLastRun is the time reconcile last ran, as recorded; null
	// when it never ran.
	ReconcileLastRun *string `json:"reconcile_last_run"`
	// ReconcileCutOff and ReconcileEnqueued are what the last run used and
	// did, when recorded.
	ReconcileCutOff   *time.Time       `json:"reconcile_cut_off,omitempty"`
	ReconcileEnqueued *int             `json:"reconcile_enqueued,omitempty"`
	Identities        map[string]int64 `json:"identities"`
	Deliveries        int64            `json:"deliveries"`
	Jobs              map[string]int64 `json:"jobs"`
	LastErrors        []AuditRecord    `json:"last_errors"`
}

// Status writes st, the status of the database named database, in format
// (json, or else a table with the times' age at now). A status without the
// time the database was initialised is an error: the database is not
// inviter's, and nothing is written.
func Status(w io.Writer, format string, st app.Status, database string, now time.Time) error {
	rep, err := newStatusReport(st, database)
	if err != nil {
		return err
	}
	if format == "json" {
		return cliout.JSON(w, rep)
	}
	return printStatus(w, rep, now)
}

// newStatusReport is st as the report shows it; name is the database.
func newStatusReport(st app.Status, name string) (StatusReport, error) {
	rep := StatusReport{Database: name, Backend: st.Backend, Identities: map[string]int64{}, Jobs: map[string]int64{}, LastErrors: []AuditRecord{}}
	if st.InitialisedAt.IsZero() {
		return rep, fmt.Errorf("reading when the database was initialised: meta %q: %w", store.MetaInitialisedAt, store.ErrNotFound)
	}
	rep.InitialisedAt = st.InitialisedAt.UTC()
	if run := st.ReconcileRun; run != nil {
		at := run.At.UTC().Format(time.RFC3339Nano)
		cut, n := run.CutOff.UTC(), run.Enqueued
		rep.ReconcileLastRun, rep.ReconcileCutOff, rep.ReconcileEnqueued = &at, &cut, &n
	} else if v := st.ReconcileLastRun; v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		rep.ReconcileLastRun = &v
	}
	for s, n := range st.Identities {
		rep.Identities[string(s)] = n
	}
	rep.Deliveries = st.Deliveries
	for _, s := range JobStates() {
		rep.Jobs[s] = 0
	}
	for s, n := range st.Jobs {
		rep.Jobs[jobState(s)] += n
	}
	for _, e := range st.Errors {
		r := newAuditRecord(e.AuditEntry)
		r.Name, r.IdentityState = e.Name, string(e.State)
		rep.LastErrors = append(rep.LastErrors, r)
	}
	return rep, nil
}

func printStatus(w io.Writer, rep StatusReport, now time.Time) error {
	tw := cliout.Table(w)
	fmt.Fprintf(tw, "database\t%s (%s)\n", rep.Database, rep.Backend)
	fmt.Fprintf(tw, "initialised\t%s, the reconcile cut-off\n", cliout.Stamp(rep.InitialisedAt, now))
	last := "never"
	if rep.ReconcileLastRun != nil {
		last = *rep.ReconcileLastRun
		if t, err := time.Parse(time.RFC3339Nano, last); err == nil {
			last = cliout.Stamp(t, now)
		}
	}
	if rep.ReconcileCutOff != nil && rep.ReconcileEnqueued != nil {
		last += fmt.Sprintf(", cut-off %s, %d enqueued", rep.ReconcileCutOff.UTC().Format(cliout.TimeLayout), *rep.ReconcileEnqueued)
	}
	fmt.Fprintf(tw, "reconcile last run\t%s\n", last)
	fmt.Fprintf(tw, "deliveries\t%d\n", rep.Deliveries)
	if err := tw.Flush(); err != nil {
		return err
	}

	states := make([]string, 0, len(inviter.InviteStates))
	for _, s := range inviter.InviteStates {
		states = append(states, string(s))
	}
	for s := range rep.Identities {
		if !slices.Contains(states, s) {
			states = append(states, s)
		}
	}
	jobs := JobStates()
	for s := range rep.Jobs {
		if !slices.Contains(jobs, s) {
			jobs = append(jobs, s)
		}
	}
	fmt.Fprintln(w)
	if err := cliout.Counts(w, "identities", states, rep.Identities); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := cliout.Counts(w, "jobs", jobs, rep.Jobs); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(rep.LastErrors) == 0 {
		_, err := fmt.Fprintln(w, "last errors: none")
		return err
	}
	fmt.Fprintln(w, "last errors (newest first):")
	tw = cliout.Table(w)
	fmt.Fprintln(tw, "  TIME\tIDENTITY\tNAME\tOUTCOME\tATTEMPT\tSTATE NOW\tREASON")
	for _, e := range rep.LastErrors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", cliout.Stamp(e.At, now), e.IdentityID, cliout.Dash(e.Name), e.Outcome, e.Attempt,
			cliout.Dash(e.IdentityState), cliout.OneLine(e.Reason, 100))
	}
	return tw.Flush()
}
