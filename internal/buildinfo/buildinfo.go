// Package buildinfo says which build of inviter is running: the version,
// the commit and build time, and the Go toolchain.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what inviter version reports: the module version, the VCS
// commit and time the binary was built from, and the Go toolchain.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
	Modified  bool   `json:"modified"`
	Go        string `json:"go"`
}

// Read reads the binary's build information. version, commit and
// buildTime are what -ldflags set ("" for commit and buildTime when not
// set; version "dev"): a version set wins over the module version, which
// is "(devel)" for a build from a checkout, and the VCS information stands
// in for an unset commit and build time.
func Read(version, commit, buildTime string) Info {
	bi := Info{Version: version, Commit: commit, BuildTime: buildTime, Go: runtime.Version()}
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

// String is the text inviter version prints.
func (b Info) String() string {
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("inviter %s\ncommit %s\nbuilt %s\n%s", b.Version, commit, b.BuildTime, b.Go)
}
