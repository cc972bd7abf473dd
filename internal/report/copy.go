package report

import (
	"fmt"
	"io"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/queue"
)

// Copy is what a copy of a SQLite database into PostgreSQL did.
type Copy struct {
	// From is the SQLite database copied; To names the PostgreSQL one, its
	// password already redacted.
	From, To string
	// CutOff is the target's initialised_at after the copy.
	CutOff time.Time
	// FailedJobs is how many invite jobs gave up in From (River's cancelled
	// and discarded): they are not copied.
	FailedJobs int64
	// Result counts what was copied.
	Result queue.CopyResult
}

// Copied writes what the copy c did, and what to do next.
func Copied(w io.Writer, c Copy) error {
	res := c.Result
	fmt.Fprintf(w, "copied %s (sqlite) to %s (postgres)\n", c.From, c.To)
	tw := cliout.Table(w)
	fmt.Fprintf(tw, "  inviter_meta\t%d keys\tcut-off initialised_at %s\n", res.Meta, c.CutOff.UTC().Format(time.RFC3339))
	kept := ""
	if res.IdentitiesKept > 0 {
		kept = fmt.Sprintf("%d kept as the target had them", res.IdentitiesKept)
	}
	fmt.Fprintf(tw, "  inviter_identities\t%d rows\t%s\n", res.Identities, kept)
	shift := ""
	if res.DeliveryIDOffset > 0 {
		shift = fmt.Sprintf("ids shifted by %d", res.DeliveryIDOffset)
	}
	fmt.Fprintf(tw, "  inviter_deliveries\t%d rows\t%s\n", res.Deliveries, shift)
	fmt.Fprintf(tw, "  inviter_audit\t%d rows\t\n", res.Audit)
	fmt.Fprintf(tw, "  invite jobs\t%d re-enqueued\tavailable %d, scheduled %d, retryable %d, running (daemon killed) %d\n",
		res.Jobs, res.JobsByState[rivertype.JobStateAvailable], res.JobsByState[rivertype.JobStateScheduled],
		res.JobsByState[rivertype.JobStateRetryable], res.JobsByState[rivertype.JobStateRunning])
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.AlreadyQueued > 0 {
		fmt.Fprintf(w, "  %d of them were already queued in the target\n", res.AlreadyQueued)
	}
	if res.AlreadyInvited > 0 {
		fmt.Fprintf(w, "  %d unfinished jobs left out: the target already invited their identity\n", res.AlreadyInvited)
	}
	if res.OtherKinds > 0 {
		fmt.Fprintf(w, "  %d unfinished jobs of other kinds left out (periodic jobs: the daemon re-creates them)\n", res.OtherKinds)
	}
	if c.FailedJobs > 0 {
		fmt.Fprintf(w, "  %d failed invite jobs (River's cancelled or discarded) stay in %s; invite those identities again with inviter invite ID… if wanted\n", c.FailedJobs, c.From)
	}
	_, err := fmt.Fprintf(w, "Next: start inviter serve with INVITER_DB set to the PostgreSQL URL; keep %s as an archive and do not start a daemon on it again.\n", c.From)
	return err
}
