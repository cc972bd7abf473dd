package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/report"
)

type inviteOptions struct {
	cfg          app.InviteConfig
	tenant       tenantSettings
	api          apiFlag
	createdAfter string
	output       string
	policy       policySettings
	db           dbSettings
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
	fs.IntVar(&o.cfg.BatchSize, "batch-size", 100, "identities per invite call")
	bindEnv(fs, "batch-size", "INVITER_BATCH_SIZE")
	fs.BoolVar(&o.cfg.Unregistered, "unregistered", false, "invite every unregistered identity (see --created-after and --limit)")
	fs.StringVar(&o.createdAfter, "created-after", "", "with --unregistered: only identities created after DATE (2006-01-02 or RFC 3339)")
	fs.IntVar(&o.cfg.Limit, "limit", 0, "with --unregistered: invite at most N identities (0: no limit)")
	fs.BoolVar(&o.cfg.DryRun, "dry-run", false, "print what would be invited; change nothing in the tenant")
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.policy.register(fs)
	o.db.register(fs)
	fs.BoolVar(&o.cfg.Force, "force", false, "invite also identities the database says inviter already invited or has queued")
	fs.BoolVar(&o.yes, "yes", false, "with --unregistered and no --created-after: invite the whole backlog without asking")
	return cmd
}

// validate checks the flags against the arguments and reads --created-after.
func (o *inviteOptions) validate(args []string) (err error) {
	switch c := &o.cfg; {
	case c.Unregistered && len(args) > 0:
		return usagef("give identity ids or --unregistered, not both")
	case !c.Unregistered && len(args) == 0:
		return usagef("give at least one identity id, or --unregistered")
	case !c.Unregistered && (o.createdAfter != "" || c.Limit != 0):
		return usagef("--created-after and --limit go with --unregistered")
	case o.output != "text" && o.output != "json":
		return usagef("--output %q: want text or json", o.output)
	case c.BatchSize <= 0:
		return usagef("--batch-size must be positive")
	case c.Limit < 0:
		return usagef("--limit must not be negative")
	}
	if o.createdAfter != "" {
		if o.cfg.CreatedAfter, err = parseDate(o.createdAfter); err != nil {
			return usagef("--created-after: %v", err)
		}
	}
	return nil
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

func (o *inviteOptions) run(ctx context.Context, flags *pflag.FlagSet, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	cfg := &o.cfg
	if err = o.validate(args); err != nil {
		return err
	}
	if cfg.ISC, err = o.tenant.clientConfig(nil, 5); err != nil {
		return err
	}
	// The database is the one --db or INVITER_DB names, or the default file
	// when it exists; without one invite works from ISC's answers alone.
	f := flags.Lookup("db")
	if _, err := os.Stat(o.db.dsn); f.Changed || f.Value.String() != f.DefValue || !errors.Is(err, fs.ErrNotExist) {
		cfg.DB, cfg.DBSetting = o.db.dsn, settingName(flags, "db")
		if err := checkDB(cfg.DBSetting, cfg.DB); err != nil {
			return err
		}
	}
	if cfg.Policy, err = o.policy.build(); err != nil {
		return err
	}
	cfg.API, cfg.Progress = o.api.api, progressBar(stderr, cfg.BatchSize)
	cfg.Logger, _ = o.tenant.logger(stderr)
	cfg.ISC.Logger = cfg.Logger
	o.tenant.logCalls(&cfg.ISC, cfg.Logger)
	if cfg.Unregistered && o.createdAfter == "" && !o.yes {
		cfg.Confirm = func(n int) error { return confirmAll(stdin, stderr, n) }
	}
	if cfg.Policy != nil && !cfg.Unregistered {
		fmt.Fprintln(stderr, "note: the policy applies to --unregistered; identities named on the command line are invited as asked")
	}
	rep, err := app.Invite(ctx, *cfg, args)
	if err != nil {
		return err
	}
	if cfg.Unregistered && rep.Admitted == 0 {
		fmt.Fprintln(stderr, "no unregistered identities match")
	}
	if err := report.Invite(stdout, stderr, o.output, rep, cfg.DryRun); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d identities could not be invited", n, len(rep.Results))}
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

// progressBar draws, when stderr is a terminal, the progress of more than
// one batch of invitations; nil otherwise.
func progressBar(stderr io.Writer, batch int) func(done, total int) {
	if f, ok := stderr.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if done == 0 && total > batch {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("inviting"),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		} else if bar != nil {
			_ = bar.Set(done) // done == total finishes and clears it
		}
	}
}
