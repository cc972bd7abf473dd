package main

import (
	"io"

	"github.com/spf13/cobra"
)

// newRootCommand builds the command tree. Each subcommand reads its
// settings from flags first, then from the environment through getenv.
func newRootCommand(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "inviter",
		Short: "Invite new SailPoint ISC identities to register, automatically",
		Long: `inviter invites every new SailPoint Identity Security Cloud identity to register,
once, right away. It takes ISC's Identity Created event trigger, stores each
delivery durably, and invites through the public API or the legacy /cc API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// Every command reads its settings from flags first, then from the
	// environment: one place applies the environment for all of them.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, getenv) }
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(
		newServeCommand(stdout, stderr),
		newInviteCommand(stdout, stderr),
		newMigrateCommand(stdout, stderr),
		newCopyDBCommand(stdout, stderr),
		newReconcileCommand(stdout, stderr),
		newDemoCommand(stdout, stderr),
		newBenchCommand(stdout, stderr),
		newFakeTenantCommand(stdout, stderr),
		newSubscribeCommand(stdout, stderr),
		newDoctorCommand(stdout, stderr),
		newStatusCommand(stdout),
		newJobsCommand(stdout),
		newAuditCommand(stdout),
		newVersionCommand(stdout),
	)
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	root.SetGlobalNormalizationFunc(normalizeFlag)
	return root
}

// wrapArgs turns argument errors into usage errors (exit status 2).
func wrapArgs(a cobra.PositionalArgs) cobra.PositionalArgs {
	if a == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := a(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
