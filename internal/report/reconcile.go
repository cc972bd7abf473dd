package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/inviter/inviter/app"
)

// Reconcile writes what one reconciliation and the re-invites after it did,
// in format (json, or else two lines).
func Reconcile(w io.Writer, format string, res app.ReconcileResult) error {
	rep, rrep := res.Reconcile, res.Reinvite
	if format == "json" {
		// <, > and & stay escaped (\u003c…) here, unlike cliout.JSON:
		// scripts read this output as it is.
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"reconcile": rep, "reinvite": rrep})
	}
	fmt.Fprintf(w, "reconcile: %s\n", rep)
	fmt.Fprintf(w, "re-invite: %d invitations expired unused, %d registered meanwhile, %d no longer invited by the policy, %d re-invites enqueued\n", rrep.Due, rrep.Registered, rrep.Skipped, rrep.Enqueued)
	return nil
}
