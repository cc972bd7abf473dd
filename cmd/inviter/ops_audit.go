package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/store"
)

// auditCSVHeader names the CSV columns of inviter audit.
var auditCSVHeader = []string{"id", "at", "identity_id", "outcome", "reason", "api", "cc_id", "task_id", "task_status", "batch_id", "attempt", "source"}

func newAuditCommand(stdout io.Writer) *cobra.Command {
	var (
		db       dbSettings
		identity string
		limit    int
	)
	out := cliout.NewFormat("text", "json", "csv")
	cmd := &cobra.Command{
		Use:   "audit [--identity ID] [--limit N]",
		Short: "Show the audit trail of invite decisions, newest first",
		Long: `Show the audit trail: every decision inviter made about an identity (invited,
already registered, skipped, not found, failed) with the reason, the ISC API
used, the cc id, the ISC task id, the batch it went in, the job attempt and
what asked for the invite. Newest first.`,
		Example: `  inviter audit
  inviter audit --identity 2c91808568c529c60168cca6f90c1313
  inviter audit --limit 10000 -o csv > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usagef("--limit %d: want a positive number", limit)
			}
			ctx := cmd.Context()
			d, err := app.OpenExisting(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			entries, err := d.Audit(ctx, identity, limit)
			if err != nil {
				return err
			}
			return printAudit(stdout, out.String(), entries, identity, time.Now())
		},
	}
	fs := cmd.Flags()
	db.register(fs)
	fs.StringVar(&identity, "identity", "", "only the decisions about this identity id")
	fs.IntVar(&limit, "limit", 50, "show at most N rows")
	out.Register(cmd)
	return cmd
}

func printAudit(w io.Writer, format string, entries []store.AuditEntry, identity string, now time.Time) error {
	switch format {
	case "json":
		recs := make([]auditRecord, 0, len(entries))
		for _, e := range entries {
			recs = append(recs, newAuditRecord(e))
		}
		return cliout.JSON(w, recs)
	case "csv":
		rows := make([][]string, 0, len(entries))
		for _, e := range entries {
			rows = append(rows, []string{
				strconv.FormatInt(e.ID, 10), cliout.CSVTime(e.At), e.IdentityID, string(e.Outcome), e.Reason, string(e.API),
				e.CCID, e.TaskID, e.CompletionStatus, e.BatchID, strconv.Itoa(e.Attempt), string(e.Source),
			})
		}
		return cliout.CSV(w, auditCSVHeader, rows)
	}
	if len(entries) == 0 {
		msg := "no audit entries"
		if identity != "" {
			msg += " for identity " + identity
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	tw := cliout.Table(w)
	fmt.Fprintln(tw, "TIME\tIDENTITY\tOUTCOME\tREASON\tAPI\tCC ID\tTASK ID\tTASK STATUS\tBATCH\tATTEMPT\tSOURCE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", cliout.Stamp(e.At, now), e.IdentityID, e.Outcome,
			cliout.OneLine(e.Reason, 60), cliout.Dash(string(e.API)), cliout.Dash(e.CCID), cliout.Dash(e.TaskID), cliout.Dash(e.CompletionStatus), cliout.Dash(e.BatchID), e.Attempt, cliout.Dash(string(e.Source)))
	}
	return tw.Flush()
}
