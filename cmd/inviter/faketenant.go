package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newFakeTenantCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "fake-tenant", Short: "Run a fake ISC tenant (for trying inviter without a tenant)",
		RunE: func(cmd *cobra.Command, args []string) error { return fmt.Errorf("not yet") }}
}
