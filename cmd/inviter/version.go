package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildTime and commit are set at build time with -ldflags
// "-X main.buildTime=… -X main.commit=…" (a build without the .git
// directory, such as the container image's); empty, the binary's VCS
// information stands in for them.
var buildTime, commit = "", ""

// buildInfo is what inviter version reports: the module version, the VCS
// commit and time the binary was built from, and the Go toolchain.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
	Modified  bool   `json:"modified"`
	Go        string `json:"go"`
}

// readBuildInfo reads the binary's build information. -ldflags
// "-X main.version=…" wins over the module version, which is "(devel)" for
// a build from a checkout.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, BuildTime: buildTime, Go: runtime.Version()}
	if bi.Commit == "" {
		bi.Commit = "unknown"
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if bi.BuildTime == "" {
			bi.BuildTime = "unknown"
		}
		return bi
	}
	if bi.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		bi.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if commit == "" {
				bi.Commit = s.Value
			}
		case "vcs.time":
			if buildTime == "" {
				bi.BuildTime = s.Value + " (commit time)"
			}
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	if bi.BuildTime == "" {
		bi.BuildTime = "unknown"
	}
	return bi
}

func (b buildInfo) String() string {
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("inviter %s\ncommit %s\nbuilt %s\n%s", b.Version, commit, b.BuildTime, b.Go)
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	out := newOutputFlag("text", "json")
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := readBuildInfo()
			if out.format == "json" {
				return writeJSON(stdout, bi)
			}
			_, err := fmt.Fprintln(stdout, bi)
			return err
		},
	}
	out.register(cmd)
	return cmd
}
