package main

import (
	"fmt"
	"io"

	"github.com/inviter/inviter/internal/buildinfo"
	"github.com/inviter/inviter/internal/cliout"

	"github.com/spf13/cobra"
)

// buildTime and commit are set at build time with -ldflags
// "-X main.buildTime=… -X main.commit=…" (a build without the .git
// directory, such as the container image's); empty, the binary's VCS
// information stands in for them.
var buildTime, commit = "", ""

func newVersionCommand(stdout io.Writer) *cobra.Command {
	out := cliout.NewFormat("text", "json")
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := buildinfo.Read(version, commit, buildTime)
			if out.Is("json") {
				return cliout.JSON(stdout, bi)
			}
			_, err := fmt.Fprintln(stdout, bi)
			return err
		},
	}
	out.Register(cmd)
	return cmd
}
