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
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

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
				return usagef("--state %q: want one of %s", state, strings.Join(report.JobStates(), ", "))
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
			return report.Jobs(stdout, out.String(), jobs, state, time.Now())
		},
	}
	fs := cmd.Flags()
	db.register(fs)
	fs.StringVar(&state, "state", "", "only jobs in this state: "+strings.Join(report.JobStates(), ", ")+" (failed: River's cancelled and discarded)")
	fs.IntVar(&limit, "limit", 50, "list at most N jobs")
	out.Register(cmd)
	return cmd
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
			if perr := report.Retried(stdout, out.String(), retried); perr != nil {
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
