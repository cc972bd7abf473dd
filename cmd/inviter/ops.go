package main

// The operator commands: status, jobs and audit. They read the database the
// daemon writes (SQLite file or PostgreSQL, --db / INVITER_DB), print
// aligned tables for people and JSON or CSV for scripts, and never create or
// migrate a database: pointed at the wrong place they say so.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// statusErrors is how many recent errors inviter status shows.
const statusErrors = 5

// timeLayout is how the operator commands print a time for people (UTC).
const timeLayout = "2006-01-02 15:04:05Z"

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

// outputFlag is an -o/--output value: one of the formats a command offers.
type outputFlag struct {
	format  string
	formats []string
}

func newOutputFlag(formats ...string) outputFlag {
	return outputFlag{format: formats[0], formats: formats}
}

func (o *outputFlag) String() string { return o.format }
func (o *outputFlag) Type() string   { return strings.Join(o.formats, "|") }
func (o *outputFlag) Set(s string) error {
	if !slices.Contains(o.formats, s) {
		return fmt.Errorf("want %s", strings.Join(o.formats, ", "))
	}
	o.format = s
	return nil
}

func (o *outputFlag) register(cmd *cobra.Command) {
	cmd.Flags().VarP(o, "output", "o", "output format: "+strings.Join(o.formats, ", "))
}

// openExisting opens the database dsn names for an operator command. It
// neither creates nor migrates one: a SQLite path that does not exist and a
// database that was never migrated are errors that say what to run.
func openExisting(ctx context.Context, dsn string) (*store.DB, error) {
	name := redact.DSN(dsn)
	if !store.IsPostgresDSN(dsn) {
		path := strings.TrimPrefix(dsn, "file:")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (--db, INVITER_DB); point --db at the file inviter serve uses, or create one with inviter migrate --db %s", path, path)
		} else if err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("opening the database (INVITER_DB): %w", err)
	}
	ok, err := queue.MigrationsApplied(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: checking its schema: %w", name, err)
	}
	if !ok {
		_, ierr := db.InitialisedAt(ctx)
		db.Close()
		if ierr == nil {
			return nil, fmt.Errorf("database %s has an older schema than this inviter: run inviter migrate with the same --db (inviter serve also migrates on start)", name)
		}
		return nil, fmt.Errorf("database %s was never migrated, so inviter has not run on it: start inviter serve or run inviter migrate with the same --db", name)
	}
	return db, nil
}

// stamp formats t for a table: the UTC time and how long ago (or ahead)
// it is; "-" for the zero time.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout) + " (" + age(t, now) + ")"
}

// age says how far t is from now, roughly: "12s ago", "3m ago", "in 2h".
func age(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// oneLine cuts s to its first line and at most max characters, marking a
// cut with "…"; "-" for an empty s.
func oneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "-"
	}
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, cut = strings.TrimSpace(s[:i]), true
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s, cut = string(r[:max-1]), true
	}
	if cut {
		s += "…"
	}
	return s
}

// dash stands in for an empty table cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a DSN's & stays readable
	return enc.Encode(v)
}

// writeCSV writes header and rows as RFC 4180 CSV.
func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// csvTime formats t for CSV: RFC 3339 in UTC, empty for the zero time.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
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
		API: string(e.API), CCID: e.CCID, TaskID: e.TaskID, TaskStatus: e.CompletionStatus, BatchID: e.BatchID, Attempt: e.Attempt, Source: e.Source,
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
	out := newOutputFlag("text", "json")
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
			d, err := openExisting(ctx, db.dsn)
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
			if out.format == "json" {
				return writeJSON(stdout, rep)
			}
			return printStatus(stdout, rep, time.Now())
		},
	}
	db.register(cmd.Flags())
	out.register(cmd)
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s (%s)\n", rep.Database, rep.Backend)
	fmt.Fprintf(tw, "initialised\t%s, the reconcile cut-off\n", stamp(rep.InitialisedAt, now))
	last := "never"
	if rep.ReconcileLastRun != nil {
		last = *rep.ReconcileLastRun
		if t, err := time.Parse(time.RFC3339Nano, last); err == nil {
			last = stamp(t, now)
		}
	}
	if rep.ReconcileCutOff != nil && rep.ReconcileEnqueued != nil {
		last += fmt.Sprintf(", cut-off %s, %d enqueued", rep.ReconcileCutOff.UTC().Format(timeLayout), *rep.ReconcileEnqueued)
	}
	fmt.Fprintf(tw, "reconcile last run\t%s\n", last)
	fmt.Fprintf(tw, "deliveries\t%d\n", rep.Deliveries)
	if err := tw.Flush(); err != nil {
		return err
	}

	states := make([]string, 0, len(store.States))
	for _, s := range store.States {
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
	if err := countsRows(w, "identities", states, rep.Identities); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := countsRows(w, "jobs", jobs, rep.Jobs); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(rep.LastErrors) == 0 {
		_, err := fmt.Fprintln(w, "last errors: none")
		return err
	}
	fmt.Fprintln(w, "last errors (newest first):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TIME\tIDENTITY\tNAME\tOUTCOME\tATTEMPT\tSTATE NOW\tREASON")
	for _, e := range rep.LastErrors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", stamp(e.At, now), e.IdentityID, dash(e.Name), e.Outcome, e.Attempt,
			dash(e.IdentityState), oneLine(e.Reason, 100))
	}
	return tw.Flush()
}
