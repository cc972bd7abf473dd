package report

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/store"
)

// AuditRecord is an audit row as JSON shows it.
type AuditRecord struct {
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
	// IdentityState is the identity's invite state now (status only): a
	// not_found that was later invited reads "invited".
	IdentityState string `json:"identity_state,omitempty"`
	// Name is the identity's name from its deliveries (status only); empty
	// when none carried one.
	Name string `json:"name,omitempty"`
}

func newAuditRecord(e store.AuditEntry) AuditRecord {
	return AuditRecord{
		ID: e.ID, At: e.At.UTC(), IdentityID: e.IdentityID, Outcome: string(e.Outcome), Reason: e.Reason,
		API: string(e.API), CCID: e.CCID, TaskID: e.TaskID, TaskStatus: e.CompletionStatus, BatchID: e.BatchID, Attempt: e.Attempt, Source: string(e.Source),
	}
}

// auditCSVHeader names the CSV columns of the audit trail.
var auditCSVHeader = []string{"id", "at", "identity_id", "outcome", "reason", "api", "cc_id", "task_id", "task_status", "batch_id", "attempt", "source"}

// Audit writes the audit entries in format (json, csv, or else a table
// with the times' age at now); identity is the one the entries were
// narrowed to, if any, for the table's empty case.
func Audit(w io.Writer, format string, entries []store.AuditEntry, identity string, now time.Time) error {
	switch format {
	case "json":
		recs := make([]AuditRecord, 0, len(entries))
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
