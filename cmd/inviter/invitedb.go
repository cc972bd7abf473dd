package main

// What inviter invite does with the database the daemon uses: it skips
// identities inviter already invited (or has queued), records each decision
// in the audit trail, so that reconcile and the daemon know about them, and
// asks before mailing every unregistered identity of the tenant.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// openInviteDB opens the database invite records in: the one --db or
// INVITER_DB names (created and migrated when missing), or the default
// file when it exists. nil, nil means there is none: invite then works from
// ISC's answers alone.
func openInviteDB(ctx context.Context, flags *pflag.FlagSet, dsn string, logger *slog.Logger) (*store.DB, error) {
	f := flags.Lookup("db")
	named := f.Changed || f.Value.String() != f.DefValue
	if !named {
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	if err := checkDB(settingName(flags, "db"), dsn); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dsn, logger)
	if err != nil {
		return nil, fmt.Errorf("opening the database %s (%s): %w", redact.DSN(dsn), settingName(flags, "db"), err)
	}
	if err := queue.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database %s: %w", redact.DSN(dsn), err)
	}
	return db, nil
}

// skipKnown drops from ids the identities the database says inviter
// already invited, or holds as pending (the daemon has them queued), and
// returns them as skipped results.
func skipKnown(ctx context.Context, db *store.DB, ids []string, api inviter.API) (keep []string, known []inviter.Result, err error) {
	for _, id := range ids {
		ident, err := db.Identity(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			keep = append(keep, id)
			continue
		case err != nil:
			return nil, nil, err
		}
		var reason string
		switch ident.State {
		case store.StateInvited:
			reason = "already invited by inviter"
			if !ident.InvitedAt.IsZero() {
				reason += " on " + ident.InvitedAt.UTC().Format(time.DateOnly)
			}
		case store.StatePending:
			reason = "queued in the daemon (inviter status)"
		default:
			keep = append(keep, id)
			continue
		}
		known = append(known, inviter.Result{IdentityID: id, API: api, Outcome: inviter.OutcomeSkipped, Reason: reason + "; --force invites again"})
	}
	return keep, known, nil
}

// recordResults writes each result of an invite call to the audit trail,
// with the identity's new state, source "cli".
func recordResults(ctx context.Context, db *store.DB, results []inviter.Result) error {
	for _, r := range results {
		var state store.State
		switch r.Outcome {
		case inviter.OutcomeInvited:
			state = store.StateInvited
		case inviter.OutcomeAlreadyRegistered:
			state = store.StateSkipped
		case inviter.OutcomeFailed, inviter.OutcomeNotFound:
			state = store.StateFailed
		default:
			continue
		}
		d := store.Decision{State: state, AuditEntry: store.AuditEntry{
			IdentityID: r.IdentityID, Outcome: r.Outcome, Reason: r.Reason, API: r.API, CCID: r.CCID,
			TaskID: r.TaskID, Source: "cli", Attempt: 1,
		}}
		if err := db.Record(ctx, d); err != nil {
			return fmt.Errorf("recording the outcome of %s: %w", r.IdentityID, err)
		}
	}
	return nil
}

// confirmAll asks, on a terminal, before n identities are invited with
// --unregistered and no --created-after (the whole backlog); off a terminal
// it refuses without --yes, inviting nobody.
func confirmAll(stdin io.Reader, stderr io.Writer, n int) error {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return usagef("--unregistered without --created-after would invite all %d unregistered identities of the tenant; nobody was invited: add --yes to confirm, or narrow it with --created-after DATE", n)
	}
	fmt.Fprintf(stderr, "Invite all %d unregistered identities of the tenant (no --created-after)? [y/N] ", n)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return &exitError{code: 1, msg: "not confirmed; nobody was invited"}
	}
	return nil
}

// summary is the closing line of inviter invite.
func summary(results []inviter.Result, dry bool) string {
	counts := map[inviter.Outcome]int{}
	would := 0
	for _, r := range results {
		if dry && r.Outcome == inviter.OutcomeSkipped && r.Reason == dryRunReason {
			would++
			continue
		}
		counts[r.Outcome]++
	}
	var parts []string
	if dry {
		parts = append(parts, fmt.Sprintf("dry run: %d would be invited", would))
	} else {
		parts = append(parts, fmt.Sprintf("%d invited", counts[inviter.OutcomeInvited]))
	}
	parts = append(parts,
		fmt.Sprintf("%d already registered", counts[inviter.OutcomeAlreadyRegistered]),
		fmt.Sprintf("%d skipped", counts[inviter.OutcomeSkipped]),
		fmt.Sprintf("%d not found", counts[inviter.OutcomeNotFound]),
		fmt.Sprintf("%d failed", counts[inviter.OutcomeFailed]))
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%d identities)", len(results))
}

// printDryRun shows what a dry run found: name, email and created date
// next to each identity.
func printDryRun(w io.Writer, results []inviter.Result, info map[string]inviter.Identity) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tNAME\tEMAIL\tCREATED\tWHAT")
	for _, r := range results {
		what := describeDry(r)
		id := info[r.IdentityID]
		created := "-"
		if !id.Created.IsZero() {
			created = id.Created.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.IdentityID, dash(id.Name), dash(id.Email), created, what)
	}
	return tw.Flush()
}
