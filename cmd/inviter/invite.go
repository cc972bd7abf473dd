package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/isc"
)

type inviteOptions struct {
	tenant       tenantSettings
	api          apiFlag
	batchSize    int
	unregistered bool
	createdAfter string
	limit        int
	dryRun       bool
	output       string
	policy       policySettings
	db           dbSettings
	force        bool
	yes          bool
}

func newInviteCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &inviteOptions{api: apiFlag{inviter.APIPublic}}
	cmd := &cobra.Command{
		Use:   "invite [ID…] | invite --unregistered [--created-after DATE] [--limit N]",
		Short: "Invite identities to register now",
		Long: `Invite the identities with the given identity ids now, or with --unregistered
every identity that has not registered (narrowed by --created-after and --limit
so the old backlog is not mailed). Prints one line per identity and a summary;
the exit status is 1 when any identity could not be invited.

With a database (--db or INVITER_DB, or the default file when it exists: the
one inviter serve uses) every decision goes to the audit trail, and identities
inviter already invited or has queued are skipped unless --force.
--unregistered without --created-after asks for confirmation on a terminal and
needs --yes otherwise.`,
		Example: `  inviter invite 2c91808568c529c60168cca6f90c1313
  inviter invite --api cc 2c91808568c529c60168cca6f90c1313
  inviter invite --unregistered --created-after 2026-11-01 --dry-run
  inviter invite --unregistered --created-after 2026-11-01 -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.Flags(), args, cmd.InOrStdin(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	o.tenant.register(fs)
	fs.Var(&o.api, "api", "invite path: public (POST /beta/identities/invite) or cc (legacy /cc API)")
	bindEnv(fs, "api", "INVITER_API")
	fs.IntVar(&o.batchSize, "batch-size", 100, "identities per invite call")
	bindEnv(fs, "batch-size", "INVITER_BATCH_SIZE")
	fs.BoolVar(&o.unregistered, "unregistered", false, "invite every unregistered identity (see --created-after and --limit)")
	fs.StringVar(&o.createdAfter, "created-after", "", "with --unregistered: only identities created after DATE (2006-01-02 or RFC 3339)")
	fs.IntVar(&o.limit, "limit", 0, "with --unregistered: invite at most N identities (0: no limit)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be invited; change nothing in the tenant")
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.policy.register(fs)
	o.db.register(fs)
	fs.BoolVar(&o.force, "force", false, "invite also identities the database says inviter already invited or has queued")
	fs.BoolVar(&o.yes, "yes", false, "with --unregistered and no --created-after: invite the whole backlog without asking")
	return cmd
}

func (o *inviteOptions) validate(args []string) (time.Time, error) {
	var after time.Time
	switch {
	case o.unregistered && len(args) > 0:
		return after, usagef("give identity ids or --unregistered, not both")
	case !o.unregistered && len(args) == 0:
		return after, usagef("give at least one identity id, or --unregistered")
	case !o.unregistered && (o.createdAfter != "" || o.limit != 0):
		return after, usagef("--created-after and --limit go with --unregistered")
	case o.output != "text" && o.output != "json":
		return after, usagef("--output %q: want text or json", o.output)
	case o.batchSize <= 0:
		return after, usagef("--batch-size must be positive")
	case o.limit < 0:
		return after, usagef("--limit must not be negative")
	}
	if o.createdAfter != "" {
		t, err := parseDate(o.createdAfter)
		if err != nil {
			return after, usagef("--created-after: %v", err)
		}
		after = t
	}
	return after, nil
}

// parseDate reads a date (2006-01-02, midnight UTC) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date such as 2026-11-01 or 2026-11-01T09:00:00Z", s)
}

func (o *inviteOptions) run(ctx context.Context, flags *pflag.FlagSet, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	after, err := o.validate(args)
	if err != nil {
		return err
	}
	cfg, err := o.tenant.clientConfig(nil, 5)
	if err != nil {
		return err
	}
	logger, _ := o.tenant.logger(stderr)
	cfg.Logger = logger
	o.tenant.logCalls(&cfg, logger)
	db, err := openInviteDB(ctx, flags, o.db.dsn, logger)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	client, err := isc.New(ctx, cfg)
	if err != nil {
		return err
	}
	var dir *isc.Directory
	if o.api.api == inviter.APICC {
		// A tenant whose /cc API is gone cannot be served with --api cc:
		// say so once (exit 2), before anyone is looked up or recorded.
		if err := app.CheckCC(ctx, cfg, logger); err != nil {
			return err
		}
		dir = isc.NewDirectory(client, isc.DirectoryOptions{})
	}

	pol, err := o.policy.build()
	if err != nil {
		return err
	}
	if pol != nil && !o.unregistered {
		fmt.Fprintln(stderr, "note: the policy applies to --unregistered; identities named on the command line are invited as asked")
	}

	ids := dedupeIDs(args)
	var results, skipped []inviter.Result
	info := map[string]inviter.Identity{}
	if o.unregistered {
		idents, err := listUnregistered(ctx, client, after, 0)
		if err != nil {
			return err
		}
		ids = ids[:0]
		now := time.Now()
		admit := admission.Decider{Policy: pol}
		for _, id := range idents {
			d := admit.Identity(id, now)
			switch d.Verdict {
			case admission.Now:
			case admission.Later:
				skipped = append(skipped, inviter.Result{IdentityID: id.ID, API: o.api.api, Outcome: inviter.OutcomeSkipped,
					Reason: "start date: invite on " + d.At.Format(time.DateOnly) + " (inviter serve schedules it)"})
				continue
			default:
				skipped = append(skipped, inviter.Result{IdentityID: id.ID, API: o.api.api, Outcome: inviter.OutcomeSkipped, Reason: d.Reason})
				continue
			}
			if o.limit > 0 && len(ids) >= o.limit {
				break
			}
			ids = append(ids, id.ID)
			info[id.ID] = id
		}
		if len(ids) == 0 {
			fmt.Fprintln(stderr, "no unregistered identities match")
		}
	}
	if db != nil && !o.force {
		var known []inviter.Result
		if ids, known, err = skipKnown(ctx, db, ids, o.api.api); err != nil {
			return err
		}
		skipped = append(known, skipped...)
	}
	if o.unregistered && o.createdAfter == "" && !o.dryRun && !o.yes && len(ids) > 0 {
		if err := confirmAll(stdin, stderr, len(ids)); err != nil {
			return err
		}
	}
	if o.dryRun {
		results, err = dryRun(ctx, client, dir, o.api.api, ids, o.unregistered, info)
		if err != nil {
			return err
		}
	} else {
		inv, err := isc.NewInviter(client, isc.InviterConfig{
			API: o.api.api, BatchSize: o.batchSize, Directory: dir,
			NoLookup: o.unregistered, // a fresh list needs no second look
			Listed:   info,           // what that list showed (shared addresses)
		})
		if err != nil {
			return err
		}
		results = inviteWithProgress(ctx, inv, ids, o.batchSize, stderr)
		if db != nil {
			if err := recordResults(ctx, db, results); err != nil {
				return err
			}
		}
	}
	results = append(results, skipped...)
	if err := printResults(stdout, o.output, results, o.dryRun, info); err != nil {
		return err
	}
	sum := stdout
	if o.output == "json" {
		sum = stderr
	}
	fmt.Fprintln(sum, summary(results, o.dryRun))
	failed := 0
	for _, r := range results {
		if r.Outcome == inviter.OutcomeFailed || r.Outcome == inviter.OutcomeNotFound {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d identities could not be invited", failed, len(results))}
	}
	return nil
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

// listUnregistered lists unregistered identities created after after (when
// set), oldest first, at most limit of them (when positive).
func listUnregistered(ctx context.Context, c *isc.Client, after time.Time, limit int) ([]inviter.Identity, error) {
	var out []inviter.Identity
	err := c.EachUnregistered(ctx, func(page []inviter.Identity) error {
		for _, id := range page {
			if after.IsZero() || id.Created.After(after) {
				out = append(out, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b inviter.Identity) int { return a.Created.Compare(b.Created) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// dryRunReason marks the results of a dry run that would be invited.
const dryRunReason = "dry run: would invite"

// dryRun says what Invite would do without calling anything that changes
// the tenant. Listed identities are known unregistered; given ids are
// looked up.
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

// inviteWithProgress invites ids in chunks of a few batches, drawing a
// progress bar on stderr when it is a terminal.
func inviteWithProgress(ctx context.Context, inv *isc.Inviter, ids []string, batch int, stderr io.Writer) []inviter.Result {
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && len(ids) > batch {
		bar = progressbar.NewOptions(len(ids),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("inviting"),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
		)
	}
	var results []inviter.Result
	for chunk := range slices.Chunk(ids, batch*5) {
		results = append(results, inv.Invite(ctx, chunk)...)
		if bar != nil {
			_ = bar.Add(len(chunk))
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return results
}

func printResults(w io.Writer, format string, results []inviter.Result, dry bool, info map[string]inviter.Identity) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if results == nil {
			results = []inviter.Result{}
		}
		return enc.Encode(results)
	}
	if dry {
		return printDryRun(w, results, info)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\n", r.IdentityID, isc.Describe(r))
	}
	return tw.Flush()
}

// describeDry is a dry run's word for a result.
func describeDry(r inviter.Result) string {
	if r.Outcome != inviter.OutcomeSkipped || r.Reason != dryRunReason {
		return isc.Describe(r)
	}
	if r.CCID != "" {
		return "would invite (cc id " + r.CCID + ")"
	}
	return "would invite"
}
