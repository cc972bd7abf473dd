package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// jobRecord is a River job as JSON shows it.
type jobRecord struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	IdentityID  string    `json:"identity_id"`
	Source      string    `json:"source"`
	Round       int       `json:"round"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	CreatedAt   time.Time `json:"created_at"`
	ScheduledAt time.Time `json:"scheduled_at"`
	FinalizedAt time.Time `json:"finalized_at,omitzero"` // absent while the job is not finished
	LastError   string    `json:"last_error"`
}

func newJobRecord(j queue.Job) jobRecord {
	return jobRecord{
		ID: j.ID, Kind: j.Kind, State: j.State, IdentityID: j.IdentityID, Source: string(j.Source), Round: j.Round,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt.UTC(), ScheduledAt: j.ScheduledAt.UTC(),
		FinalizedAt: utcOrZero(j.FinalizedAt), LastError: j.LastError,
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func newJobsCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List River jobs, and retry failed invites",
		Long: `List the River jobs in inviter's database, or retry invite jobs that failed
(gave up: River's states cancelled and discarded, shown as "failed"). A running
inviter serve on the same database picks retried jobs up.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newJobsListCommand(stdout), newJobsRetryCommand(stdout))
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return cmd
}

// openQueue opens the existing database dsn names and an insert-only queue
// on it.
func openQueue(ctx context.Context, dsn string) (*store.DB, *queue.Queue, error) {
	d, err := app.OpenExisting(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.New(d, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, q, nil
}

func newJobsListCommand(stdout io.Writer) *cobra.Command {
	var (
		db    dbSettings
		state string
		limit int
	)
	out := cliout.NewFormat("text", "json", "csv")
	cmd := &cobra.Command{
		Use:   "list [--state STATE] [--limit N]",
		Short: "List River jobs, newest first",
		Example: `  inviter jobs list
  inviter jobs list --state failed
  inviter jobs list --state retryable -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && state != queue.StateFailed && !slices.Contains(rivertype.JobStates(), rivertype.JobState(state)) {
				return usagef("--state %q: want one of %s", state, strings.Join(jobStates, ", "))
			}
			if limit < 1 || limit > 10000 {
				return usagef("--limit %d: want 1 to 10000", limit)
			}
			ctx := cmd.Context()
			d, q, err := openQueue(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			var jobs []queue.Job
			if state == queue.StateFailed {
				jobs, err = q.ListFailed(ctx, limit)
			} else {
				jobs, err = q.ListJobs(ctx, state, limit)
			}
			if err != nil {
				return err
			}
			return printJobs(stdout, out.String(), jobs, state, time.Now())
		},
	}
	fs := cmd.Flags()
	db.register(fs)
	fs.StringVar(&state, "state", "", "only jobs in this state: "+strings.Join(jobStates, ", ")+" (failed: River's cancelled and discarded)")
	fs.IntVar(&limit, "limit", 50, "list at most N jobs")
	out.Register(cmd)
	return cmd
}

func printJobs(w io.Writer, format string, jobs []queue.Job, state string, now time.Time) error {
	switch format {
	case "json":
		recs := make([]jobRecord, 0, len(jobs))
		for _, j := range jobs {
			recs = append(recs, newJobRecord(j))
		}
		return cliout.JSON(w, recs)
	case "csv":
		rows := make([][]string, 0, len(jobs))
		for _, j := range jobs {
			rows = append(rows, []string{
				strconv.FormatInt(j.ID, 10), j.Kind, j.State, j.IdentityID, string(j.Source), strconv.Itoa(j.Round),
				strconv.Itoa(j.Attempt), strconv.Itoa(j.MaxAttempts), cliout.CSVTime(j.CreatedAt), cliout.CSVTime(j.ScheduledAt),
				cliout.CSVTime(j.FinalizedAt), j.LastError,
			})
		}
		return cliout.CSV(w, []string{"id", "kind", "state", "identity_id", "source", "round", "attempt", "max_attempts",
			"created_at", "scheduled_at", "finalized_at", "last_error"}, rows)
	}
	if len(jobs) == 0 {
		msg := "no jobs"
		if state != "" {
			msg += " in state " + state
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	tw := cliout.Table(w)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tIDENTITY\tSOURCE\tATTEMPT\tSCHEDULED\tFINALIZED\tLAST ERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", j.ID, shownState(j.State), j.Kind, cliout.Dash(j.IdentityID), cliout.Dash(string(j.Source)),
			j.Attempt, j.MaxAttempts, cliout.Stamp(j.ScheduledAt, now), cliout.Stamp(j.FinalizedAt, now), cliout.OneLine(j.LastError, 80))
	}
	return tw.Flush()
}

// retryRecord is a retried job as JSON shows it.
type retryRecord struct {
	jobRecord
	PreviousState string `json:"previous_state"`
}

func newJobsRetryCommand(stdout io.Writer) *cobra.Command {
	var (
		db        dbSettings
		allFailed bool
	)
	out := cliout.NewFormat("text", "json")
	cmd := &cobra.Command{
		Use:   "retry ID | retry --all-failed",
		Short: "Retry a job now, or every invite job that gave up",
		Long: `Make a job available to run again now: one job by its id, or with
--all-failed every invite job that failed (gave up: River's cancelled or
discarded). A running inviter serve on the same database works them; an
identity invited in the meantime is not invited twice.`,
		Example: `  inviter jobs retry 42
  inviter jobs retry --all-failed`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			switch {
			case allFailed && len(args) > 0:
				return usagef("give a job id or --all-failed, not both")
			case !allFailed && len(args) == 0:
				return usagef("give a job id, or --all-failed")
			case len(args) == 1:
				n, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || n <= 0 {
					return usagef("job id %q: want a positive number (see inviter jobs list)", args[0])
				}
				id = n
			}
			ctx := cmd.Context()
			d, q, err := openQueue(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			var retried []queue.Retried
			if allFailed {
				retried, err = q.RetryFailed(ctx)
			} else {
				var r queue.Retried
				r, err = q.Retry(ctx, id)
				switch {
				case errors.Is(err, rivertype.ErrNotFound):
					return fmt.Errorf("no job with id %d (see inviter jobs list)", id)
				case errors.Is(err, queue.ErrJobRunning):
					return fmt.Errorf("job %d is running; it was not retried", id)
				case err == nil:
					retried = append(retried, r)
				}
			}
			if err != nil && len(retried) == 0 {
				return err
			}
			if perr := printRetried(stdout, out.String(), retried); perr != nil {
				return perr
			}
			return err
		},
	}
	fs := cmd.Flags()
	db.register(fs)
	fs.BoolVar(&allFailed, "all-failed", false, "retry every failed invite job")
	out.Register(cmd)
	return cmd
}

func printRetried(w io.Writer, format string, retried []queue.Retried) error {
	if format == "json" {
		recs := make([]retryRecord, 0, len(retried))
		for _, r := range retried {
			recs = append(recs, retryRecord{jobRecord: newJobRecord(r.Job), PreviousState: r.PreviousState})
		}
		return cliout.JSON(w, recs)
	}
	if len(retried) == 0 {
		_, err := fmt.Fprintln(w, "no failed invite jobs to retry")
		return err
	}
	tw := cliout.Table(w)
	fmt.Fprintln(tw, "ID\tKIND\tIDENTITY\tWAS\tNOW\tATTEMPT\tLAST ERROR")
	for _, r := range retried {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", r.ID, r.Kind, cliout.Dash(r.IdentityID), shownState(r.PreviousState), r.State,
			r.Attempt, r.MaxAttempts, cliout.OneLine(r.LastError, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "job"
	if len(retried) != 1 {
		noun = "jobs"
	}
	_, err := fmt.Fprintf(w, "retried %d %s; a running inviter serve on this database works them now\n", len(retried), noun)
	return err
}

// shownState is River's state s for people: "failed (cancelled)" for a job
// that gave up.
func shownState(s string) string {
	if t := jobState(s); t != s {
		return t + " (" + s + ")"
	}
	return s
}
