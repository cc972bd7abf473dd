package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/isc"
)

// Invite writes the results of a one-shot invite to stdout, one line per
// identity (on a dry run a table with name, email and created date) and a
// summary line; with format json, a JSON array of the results to stdout and
// the summary line to stderr. Only a failure to write the results is an
// error.
func Invite(stdout, stderr io.Writer, format string, rep app.InviteReport, dry bool) error {
	if err := inviteResults(stdout, format, rep, dry); err != nil {
		return err
	}
	sum := stdout
	if format == "json" {
		sum = stderr
	}
	fmt.Fprintln(sum, inviteSummary(rep.Results, dry))
	return nil
}

func inviteResults(w io.Writer, format string, rep app.InviteReport, dry bool) error {
	if format == "json" {
		// <, > and & stay escaped (\u003c…) here, unlike cliout.JSON:
		// scripts read this output as it is.
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(append([]inviter.Result{}, rep.Results...)) // [] for none, not null
	}
	tw := cliout.Table(w)
	if dry {
		fmt.Fprintln(tw, "IDENTITY\tNAME\tEMAIL\tCREATED\tWHAT")
	}
	for _, r := range rep.Results {
		if !dry {
			fmt.Fprintf(tw, "%s\t%s\n", r.IdentityID, isc.Describe(r))
			continue
		}
		id, created, what := rep.Identities[r.IdentityID], "-", isc.Describe(r)
		if !id.Created.IsZero() {
			created = id.Created.UTC().Format(time.DateOnly)
		}
		switch {
		case app.WouldInvite(r) && r.CCID != "":
			what = "would invite (cc id " + r.CCID + ")"
		case app.WouldInvite(r):
			what = "would invite"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.IdentityID, cliout.Dash(id.Name), cliout.Dash(id.Email), created, what)
	}
	return tw.Flush()
}

// inviteSummary is the closing line of a one-shot invite.
func inviteSummary(results []inviter.Result, dry bool) string {
	n, would := map[inviter.Outcome]int{}, 0
	for _, r := range results {
		if dry && app.WouldInvite(r) {
			would++
		} else {
			n[r.Outcome]++
		}
	}
	first := fmt.Sprintf("%d invited", n[inviter.OutcomeInvited])
	if dry {
		first = fmt.Sprintf("dry run: %d would be invited", would)
	}
	return fmt.Sprintf("%s, %d already registered, %d skipped, %d not found, %d failed (%d identities)", first,
		n[inviter.OutcomeAlreadyRegistered], n[inviter.OutcomeSkipped], n[inviter.OutcomeNotFound], n[inviter.OutcomeFailed], len(results))
}
