package report

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/queue"
)

// JobRecord is a River job as JSON shows it.
type JobRecord struct {
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

func newJobRecord(j queue.Job) JobRecord {
	return JobRecord{
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

// Jobs writes the jobs in format (json, csv, or else a table with the
// times' age at now); state is the one the jobs were narrowed to, if any,
// for the table's empty case.
func Jobs(w io.Writer, format string, jobs []queue.Job, state string, now time.Time) error {
	switch format {
	case "json":
		recs := make([]JobRecord, 0, len(jobs))
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

// RetryRecord is a retried job as JSON shows it.
type RetryRecord struct {
	JobRecord
	PreviousState string `json:"previous_state"`
}

// Retried writes the jobs made available again in format (json, or else a
// table and a closing line).
func Retried(w io.Writer, format string, retried []queue.Retried) error {
	if format == "json" {
		recs := make([]RetryRecord, 0, len(retried))
		for _, r := range retried {
			recs = append(recs, RetryRecord{JobRecord: newJobRecord(r.Job), PreviousState: r.PreviousState})
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
