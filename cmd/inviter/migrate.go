package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

func newMigrateCommand(stdout, stderr io.Writer) *cobra.Command {
	var db dbSettings
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the database schema (serve also does this on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := checkDB(settingName(cmd.Flags(), "db"), db.dsn); err != nil {
				return err
			}
			d, err := store.Open(ctx, db.dsn, newLogger(stderr, false))
			if err != nil {
				return fmt.Errorf("opening the database (INVITER_DB): %w", err)
			}
			defer d.Close()
			if err := queue.Migrate(ctx, d); err != nil {
				return err
			}
			at, err := d.InitialisedAt(ctx)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "database %s (%s) is up to date; initialised %s\n", redact.DSN(db.dsn), d.Backend(), at.Format("2006-01-02 15:04:05Z07:00"))
			return err
		},
	}
	db.register(cmd.Flags())
	return cmd
}
