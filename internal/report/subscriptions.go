package report

import (
	"fmt"
	"io"

	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/doctor"
	"github.com/inviter/inviter/internal/subscription"
)

// Subscriptions writes the tenant's trigger subscriptions in format (json,
// or else a table).
func Subscriptions(w io.Writer, format string, recs []subscription.Record) error {
	if format == "json" {
		return cliout.JSON(w, recs)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no subscriptions to Identity Created or Identity Attributes Changed (create one with inviter subscribe --url …)")
		return err
	}
	tw := cliout.Table(w)
	fmt.Fprintln(tw, "ID\tTRIGGER\tENABLED\tURL\tDISPATCH\tAUTH\tNAME")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%s\t%s\n", r.ID, subscription.Label(r.Trigger), r.Enabled, cliout.Dash(r.URL), cliout.Dash(r.Dispatch), cliout.Dash(r.Auth), r.Name)
	}
	return tw.Flush()
}

// SubscriptionChanges writes a line for each subscription created, updated
// or removed.
func SubscriptionChanges(w io.Writer, changes []subscription.Change) {
	for _, c := range changes {
		if c.Action == subscription.RemovedDuplicate {
			fmt.Fprintf(w, "removed duplicate subscription %s\n", c.ID)
			continue
		}
		fmt.Fprintf(w, "%s subscription %s: %s -> %s\n", c.Action, c.ID, subscription.Label(c.Trigger), c.URL)
	}
}

// Subscribed writes what subscribing did, and a warning for each
// subscription that sends one of the triggers elsewhere.
func Subscribed(w io.Writer, res subscription.Result) {
	SubscriptionChanges(w, res.Changes)
	for _, s := range res.Elsewhere {
		fmt.Fprintf(w, "warning: subscription %s (%q) also sends %s to %s: ISC delivers every event to each; if that is an old address, remove it with: inviter subscribe --remove --url %s\n",
			s.ID, s.Name, subscription.Label(s.TriggerID), s.HTTPConfig.URL, s.HTTPConfig.URL)
	}
}

// TestEvents writes a line for each trigger ISC sends a test event of.
func TestEvents(w io.Writer, triggers []string) {
	for _, t := range triggers {
		fmt.Fprintf(w, "ISC is sending a test %s event to its subscribers; the daemon records it as a test delivery (inviter status, the status page)\n", subscription.Label(t))
	}
}

// Check writes the line of one doctor check: level, check, detail and the
// fix, if any.
func Check(w io.Writer, r doctor.Result) {
	line := fmt.Sprintf("%-4s  %-31s %s", r.Level, r.Check, r.Detail)
	if r.Fix != "" {
		line += " -> " + r.Fix
	}
	fmt.Fprintln(w, line)
}
