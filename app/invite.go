package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// InviteConfig is one run of the one-shot invite (inviter invite): whom to
// invite, through which API, and where the decisions are recorded.
type InviteConfig struct {
	// ISC is the SailPoint client's configuration.
	ISC isc.Config
	// API is the invite path; "": inviter.APIPublic. With inviter.APICC
	// the /cc API is checked first (CheckCC) and the /cc user list maps
	// the identities to their cc ids.
	API inviter.API
	// BatchSize is the most identities per invite call; 0: 100.
	BatchSize int
	// Unregistered invites every identity ISC lists as unregistered
	// instead of named ones, oldest first, each admitted by Policy.
	Unregistered bool
	// CreatedAfter, with Unregistered and when set, keeps only the
	// identities created after it.
	CreatedAfter time.Time
	// Limit, with Unregistered and when positive, is the most identities
	// the policy admits; 0: no limit.
	Limit int
	// Policy decides, with Unregistered, whom to invite (package
	// admission); nil: every unregistered identity. Named identities are
	// invited as asked.
	Policy *policy.Policy
	// DryRun changes nothing in the tenant or the database: the results
	// say what would happen (WouldInvite marks those that would be
	// invited).
	DryRun bool
	// DB is the database the daemon uses, a SQLite file path or a
	// postgres:// URL, created and migrated when missing; "": none, and
	// Invite works from ISC's answers alone. With one, identities it holds
	// as invited or queued are skipped (unless Force) and every invite
	// result is recorded with its audit entry, source inviter.SourceCLI.
	DB string
	// DBSetting names the setting DB came from in errors; "": "--db".
	DBSetting string
	// Force invites also the identities DB holds as invited or queued.
	Force bool
	// Confirm, when set, is asked with the number of identities about to
	// be invited before the first invitation is sent (never on a dry run,
	// nor when nobody is left); an error ends the run with nobody invited
	// and is returned as it is.
	Confirm func(n int) error
	// Progress, when set, is told how many of total identities have been
	// sent: once with done 0 before the first invite call, then after each
	// few batches. It is called on Invite's goroutine.
	Progress func(done, total int)
	// Logger logs the database's opening and the /cc API's check (a
	// warning when it did not answer); nil: discarded.
	Logger *slog.Logger
}

// InviteReport is what Invite did, or on a dry run would do.
type InviteReport struct {
	// Results has one result per identity: those sent (or on a dry run
	// looked at), in order, then those skipped before any call: known to
	// the database, then turned down by the policy.
	Results []inviter.Result
	// Identities is what ISC showed of the identities, by id: the list's
	// entries with Unregistered, a dry run's lookups of named ones. It is
	// never nil.
	Identities map[string]inviter.Identity
	// Admitted is, with Unregistered, how many listed identities the
	// policy admitted (within Limit), before those the database knows are
	// skipped.
	Admitted int
}

// Failed is how many results are failures or identities ISC does not
// know: those that could not be invited.
func (r InviteReport) Failed() int {
	n := 0
	for _, res := range r.Results {
		if res.Outcome == inviter.OutcomeFailed || res.Outcome == inviter.OutcomeNotFound {
			n++
		}
	}
	return n
}

// dryRunReason is the reason of a dry run's result that would be invited.
const dryRunReason = "dry run: would invite"

// WouldInvite reports whether r is a dry run's result for an identity that
// would be invited.
func WouldInvite(r inviter.Result) bool {
	return r.Outcome == inviter.OutcomeSkipped && r.Reason == dryRunReason
}

// Invite invites the identities ids names (blank and repeated ids are
// dropped) now, or with cfg.Unregistered every unregistered identity the
// policy admits, and reports each outcome. Identities ISC does not know,
// or that could not be invited, are results, not errors; an error is a
// setting (a *SettingError for a /cc API that is gone), a failed list or
// lookup, the database, or cfg.Confirm's refusal.
func Invite(ctx context.Context, cfg InviteConfig, ids []string) (InviteReport, error) {
	if cfg.Unregistered && len(ids) > 0 {
		return InviteReport{}, errors.New("invite: identity ids and Unregistered exclude each other")
	}
	if cfg.API == "" {
		cfg.API = inviter.APIPublic
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var db *store.DB
	if cfg.DB != "" {
		var err error
		if db, err = openDB(ctx, cfg); err != nil {
			return InviteReport{}, err
		}
		defer db.Close()
	}
	client, err := isc.New(ctx, cfg.ISC)
	if err != nil {
		return InviteReport{}, err
	}
	var dir *isc.Directory
	if cfg.API == inviter.APICC {
		// A tenant whose /cc API is gone cannot be served with the cc
		// path: said once, before anyone is looked up or recorded.
		if err := CheckCC(ctx, cfg.ISC, cfg.Logger); err != nil {
			return InviteReport{}, err
		}
		dir = isc.NewDirectory(client, isc.DirectoryOptions{})
	}

	rep := InviteReport{Identities: map[string]inviter.Identity{}}
	var skipped []inviter.Result
	ids = dedupeIDs(ids)
	if cfg.Unregistered {
		if ids, skipped, err = admitUnregistered(ctx, client, cfg, rep.Identities); err != nil {
			return InviteReport{}, err
		}
		rep.Admitted = len(ids)
	}
	if db != nil && !cfg.Force {
		var known []inviter.Result
		if ids, known, err = skipKnown(ctx, db, ids, cfg.API); err != nil {
			return InviteReport{}, err
		}
		skipped = append(known, skipped...)
	}
	if cfg.DryRun {
		if rep.Results, err = dryRun(ctx, client, dir, cfg.API, ids, cfg.Unregistered, rep.Identities); err != nil {
			return InviteReport{}, err
		}
	} else {
		if cfg.Confirm != nil && len(ids) > 0 {
			if err := cfg.Confirm(len(ids)); err != nil {
				return InviteReport{}, err
			}
		}
		inv, err := isc.NewInviter(client, isc.InviterConfig{
			API: cfg.API, BatchSize: cfg.BatchSize, Directory: dir,
			NoLookup: cfg.Unregistered, // a fresh list needs no second look
			Listed:   rep.Identities,   // what that list showed (shared addresses)
		})
		if err != nil {
			return InviteReport{}, err
		}
		rep.Results = inviteInChunks(ctx, inv, ids, cfg.BatchSize, cfg.Progress)
		if db != nil {
			if err := recordResults(ctx, db, rep.Results); err != nil {
				return InviteReport{}, err
			}
		}
	}
	rep.Results = append(rep.Results, skipped...)
	return rep, nil
}

// openDB opens and migrates cfg.DB.
func openDB(ctx context.Context, cfg InviteConfig) (*store.DB, error) {
	setting := cfg.DBSetting
	if setting == "" {
		setting = "--db"
	}
	db, err := store.Open(ctx, cfg.DB, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("opening the database %s (%s): %w", redact.DSN(cfg.DB), setting, err)
	}
	if err := queue.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database %s: %w", redact.DSN(cfg.DB), err)
	}
	return db, nil
}

func dedupeIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// admitUnregistered lists the unregistered identities created after
// cfg.CreatedAfter (when set), oldest first, and asks the admission
// decision about each: it returns the ids admitted now (at most cfg.Limit
// when positive), whose entries it adds to listed, and the results of
// those turned down or to be invited later.
func admitUnregistered(ctx context.Context, c *isc.Client, cfg InviteConfig, listed map[string]inviter.Identity) (ids []string, skipped []inviter.Result, err error) {
	var idents []inviter.Identity
	err = c.EachUnregistered(ctx, func(page []inviter.Identity) error {
		for _, id := range page {
			if cfg.CreatedAfter.IsZero() || id.Created.After(cfg.CreatedAfter) {
				idents = append(idents, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(idents, func(a, b inviter.Identity) int { return a.Created.Compare(b.Created) })
	now := time.Now()
	admit := admission.Decider{Policy: cfg.Policy}
	for _, id := range idents {
		d := admit.Identity(id, now)
		switch d.Verdict {
		case admission.Now:
		case admission.Later:
			skipped = append(skipped, inviter.Result{IdentityID: id.ID, API: cfg.API, Outcome: inviter.OutcomeSkipped,
				Reason: "start date: invite on " + d.At.Format(time.DateOnly) + " (inviter serve schedules it)"})
			continue
		default:
			skipped = append(skipped, inviter.Result{IdentityID: id.ID, API: cfg.API, Outcome: inviter.OutcomeSkipped, Reason: d.Reason})
			continue
		}
		if cfg.Limit > 0 && len(ids) >= cfg.Limit {
			break
		}
		ids = append(ids, id.ID)
		listed[id.ID] = id
	}
	return ids, skipped, nil
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
		case inviter.StateInvited:
			reason = "already invited by inviter"
			if !ident.InvitedAt.IsZero() {
				reason += " on " + ident.InvitedAt.UTC().Format(time.DateOnly)
			}
		case inviter.StatePending:
			reason = "queued in the daemon (inviter status)"
		default:
			keep = append(keep, id)
			continue
		}
		known = append(known, inviter.Result{IdentityID: id, API: api, Outcome: inviter.OutcomeSkipped, Reason: reason + "; --force invites again"})
	}
	return keep, known, nil
}

// dryRun says what an invite would do without calling anything that
// changes the tenant. Listed identities are known unregistered; named ones
// are looked up (in the /cc user list with dir), and what ISC shows of
// them is added to info.
func dryRun(ctx context.Context, c *isc.Client, dir *isc.Directory, api inviter.API, ids []string, listed bool, info map[string]inviter.Identity) ([]inviter.Result, error) {
	results := make([]inviter.Result, len(ids))
	for i, id := range ids {
		results[i] = inviter.Result{IdentityID: id, API: api, Outcome: inviter.OutcomeSkipped, Reason: dryRunReason}
	}
	if dir != nil {
		found, err := dir.LookupMany(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i := range results {
			e, ok := found[results[i].IdentityID]
			switch {
			case !ok:
				results[i].Outcome, results[i].Reason = inviter.OutcomeNotFound, isc.ErrNotInDirectory.Error()
			case e.Registered:
				results[i].CCID, results[i].Outcome, results[i].Reason = e.CCID, inviter.OutcomeAlreadyRegistered, ""
			case e.Class() == inviter.StatusUnknown:
				_, reason := inviter.ClassifyStatus(e.Status)
				results[i].CCID, results[i].Reason = e.CCID, reason
			default:
				results[i].CCID = e.CCID
			}
		}
		return results, nil
	}
	if listed {
		return results, nil
	}
	byID, err := c.LookupIdentities(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range results {
		f, ok := byID[results[i].IdentityID]
		if ok {
			info[f.ID] = f
		}
		switch {
		case !ok:
			results[i].Outcome, results[i].Reason = inviter.OutcomeNotFound, "ISC does not know this identity"
		case f.Registered():
			results[i].Outcome, results[i].Reason = inviter.OutcomeAlreadyRegistered, ""
		default:
			if class, reason := f.StatusClass(); class == inviter.StatusUnknown {
				results[i].Reason = reason
			}
		}
	}
	return results, nil
}

// inviteInChunks invites ids a few batches at a time, telling progress
// (when set) how many have been sent.
func inviteInChunks(ctx context.Context, inv *isc.Inviter, ids []string, batch int, progress func(done, total int)) []inviter.Result {
	if progress == nil {
		progress = func(int, int) {}
	}
	progress(0, len(ids))
	var results []inviter.Result
	done := 0
	for chunk := range slices.Chunk(ids, batch*5) {
		results = append(results, inv.Invite(ctx, chunk)...)
		done += len(chunk)
		progress(done, len(ids))
	}
	return results
}

// recordResults writes each result of an invite call to the audit trail,
// with the identity's new state, source inviter.SourceCLI.
func recordResults(ctx context.Context, db *store.DB, results []inviter.Result) error {
	for _, r := range results {
		var state inviter.InviteState
		switch r.Outcome {
		case inviter.OutcomeInvited:
			state = inviter.StateInvited
		case inviter.OutcomeAlreadyRegistered:
			state = inviter.StateSkipped
		case inviter.OutcomeFailed, inviter.OutcomeNotFound:
			state = inviter.StateFailed
		default:
			continue
		}
		d := store.Decision{State: state, AuditEntry: store.AuditEntry{
			IdentityID: r.IdentityID, Outcome: r.Outcome, Reason: r.Reason, API: r.API, CCID: r.CCID,
			TaskID: r.TaskID, Source: inviter.SourceCLI, Attempt: 1,
		}}
		if err := db.Record(ctx, d); err != nil {
			return fmt.Errorf("recording the outcome of %s: %w", r.IdentityID, err)
		}
	}
	return nil
}
