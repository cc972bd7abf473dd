package main

// The operator commands: status, jobs and audit. They read the database the
// daemon writes (SQLite file or PostgreSQL, --db / INVITER_DB), print
// aligned tables for people and JSON or CSV for scripts, and never create or
// migrate a database: pointed at the wrong place they say so.

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// statusErrors is how many recent errors inviter status shows.
const statusErrors = 5

// jobStates are the job states in the order the commands show them:
// River's, except that a job that gave up (River's cancelled or discarded)
// is "failed", as the identity is.
var jobStates = []string{"available", "scheduled", "running", "retryable", "completed", queue.StateFailed, "pending"}

// jobState is the state the commands show for River's state s.
func jobState(s string) string {
	if queue.Failed(s) {
		return queue.StateFailed
	}
	return s
}

// auditRecord is an audit row as JSON shows it.
type auditRecord struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	IdentityID string    `json:"identity_id"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason"`
	API        string    `json:"api"`
	CCID       string    `json:"cc_id"`
	TaskID     string    `json:"task_id"`
	TaskStatus string    `json:"task_status,omitempty"` // completionStatus of ISC's task, when read
	BatchID    string    `json:"batch_id"`
	Attempt    int       `json:"attempt"`
	Source     string    `json:"source"`
	// IdentityState is the identity's invite state now (inviter status
	// only): a not_found that was later invited reads "invited".
	IdentityState string `json:"identity_state,omitempty"`
	// Name is the identity's name from its deliveries (inviter status
	// only); empty when none carried one.
	Name string `json:"name,omitempty"`
}

func newAuditRecord(e store.AuditEntry) auditRecord {
	return auditRecord{
		ID: e.ID, At: e.At.UTC(), IdentityID: e.IdentityID, Outcome: string(e.Outcome), Reason: e.Reason,
		API: string(e.API), CCID: e.CCID, TaskID: e.TaskID, TaskStatus: e.CompletionStatus, BatchID: e.BatchID, Attempt: e.Attempt, Source: string(e.Source),
	}
}

// statusReport is what inviter status shows.
type statusReport struct {
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
	LastErrors        []auditRecord    `json:"last_errors"`
}

func newStatusCommand(stdout io.Writer) *cobra.Command {
	var db dbSettings
	out := cliout.NewFormat("text", "json")
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show identities by state, jobs, reconcile's last run and the latest errors",
		Long: `Show what inviter has done, from its database: identities by invite state,
webhook deliveries, River jobs by state, when the database was initialised
(reconcile leaves identities created before then alone), when reconcile last
ran, and the latest failed or not-found outcomes with their reasons.
Works while inviter serve runs, on SQLite and PostgreSQL alike.`,
		Example: `  inviter status
  inviter status --db /var/lib/inviter/inviter.db -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := app.OpenExisting(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := app.ReadStatus(ctx, d, app.StatusQuery{Errors: statusErrors})
			if err != nil {
				return err
			}
			rep, err := newStatusReport(st, redact.DSN(db.dsn))
			if err != nil {
				return err
			}
			if out.Is("json") {
				return cliout.JSON(stdout, rep)
			}
			return printStatus(stdout, rep, time.Now())
		},
	}
	db.register(cmd.Flags())
	out.Register(cmd)
	return cmd
}

// newStatusReport is st as inviter status shows it; name is the database.
func newStatusReport(st app.Status, name string) (statusReport, error) {
	rep := statusReport{Database: name, Backend: st.Backend, Identities: map[string]int64{}, Jobs: map[string]int64{}, LastErrors: []auditRecord{}}
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
	for _, s := range jobStates {
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

func printStatus(w io.Writer, rep statusReport, now time.Time) error {
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
	jobs := slices.Clone(jobStates)
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
