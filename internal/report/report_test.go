package report_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fxDB is the database name the status reports show.
const fxDB = "postgres://inviter@db.example.com:5432/inviter?sslmode=require&connect_timeout=5"

// goldenCases are the reports of the fixtures, each writing to stdout and
// stderr, by golden file name.
func goldenCases() map[string]func(stdout, stderr io.Writer) error {
	out := func(f func(w io.Writer) error) func(stdout, stderr io.Writer) error {
		return func(w, _ io.Writer) error { return f(w) }
	}
	status := func(st app.Status, format string) func(stdout, stderr io.Writer) error {
		return out(func(w io.Writer) error { return report.Status(w, format, st, fxDB, fxNow) })
	}
	invite := func(rep app.InviteReport, format string, dry bool) func(stdout, stderr io.Writer) error {
		return func(stdout, stderr io.Writer) error { return report.Invite(stdout, stderr, format, rep, dry) }
	}
	none := app.InviteReport{Identities: map[string]inviter.Identity{}}
	cases := map[string]func(stdout, stderr io.Writer) error{}
	for _, f := range []string{"text", "json"} {
		cases["status-full."+f] = status(fxStatus(), f)
		cases["status-bare."+f] = status(fxStatusBare(), f)
		cases["status-lastrun."+f] = status(fxStatusLastRun(), f)
		cases["status-oddlastrun."+f] = status(fxStatusOddLastRun(), f)
		cases["status-noinit."+f] = status(fxStatusNoInit(), f)
		cases["retried."+f] = out(func(w io.Writer) error { return report.Retried(w, f, fxRetried()) })
		cases["retried-one."+f] = out(func(w io.Writer) error { return report.Retried(w, f, fxRetried()[:1]) })
		cases["retried-empty."+f] = out(func(w io.Writer) error { return report.Retried(w, f, nil) })
		cases["invite."+f] = invite(fxInvite(), f, false)
		cases["invite-dry."+f] = invite(fxInviteDry(), f, true)
		cases["invite-empty."+f] = invite(none, f, false)
		cases["invite-empty-dry."+f] = invite(none, f, true)
		cases["reconcile."+f] = out(func(w io.Writer) error { return report.Reconcile(w, f, fxReconcile()) })
		cases["reconcile-listed."+f] = out(func(w io.Writer) error { return report.Reconcile(w, f, fxReconcileListed()) })
	}
	for _, f := range []string{"text", "json", "csv"} {
		cases["audit."+f] = out(func(w io.Writer) error { return report.Audit(w, f, fxAudit(), "", fxNow) })
		cases["audit-empty."+f] = out(func(w io.Writer) error { return report.Audit(w, f, nil, "", fxNow) })
		cases["audit-empty-identity."+f] = out(func(w io.Writer) error { return report.Audit(w, f, []store.AuditEntry{}, "id-x", fxNow) })
		cases["jobs."+f] = out(func(w io.Writer) error { return report.Jobs(w, f, fxJobs(), "", fxNow) })
		cases["jobs-empty."+f] = out(func(w io.Writer) error { return report.Jobs(w, f, nil, "", fxNow) })
		cases["jobs-empty-state."+f] = out(func(w io.Writer) error { return report.Jobs(w, f, []queue.Job{}, "failed", fxNow) })
	}
	cases["copy.text"] = out(func(w io.Writer) error {
		return report.Copied(w, report.Copy{From: "/var/lib/inviter/inviter.db", To: "postgres://inviter:xxxxx@db/inviter?sslmode=require&x=1",
			CutOff: fxNow.Add(-49 * time.Hour).In(fxCET), FailedJobs: 5, Result: fxCopy()})
	})
	cases["copy-plain.text"] = out(func(w io.Writer) error {
		return report.Copied(w, report.Copy{From: "inviter.db", To: "postgres://db/inviter", CutOff: fxNow, Result: fxCopyPlain()})
	})
	cases["changes.text"] = out(func(w io.Writer) error { report.SubscriptionChanges(w, fxChanges()); return nil })
	cases["changes-none.text"] = out(func(w io.Writer) error { report.SubscriptionChanges(w, nil); return nil })
	cases["doctor.text"] = out(func(w io.Writer) error {
		for _, r := range fxDoctor() {
			report.Check(w, r)
		}
		return nil
	})
	cases["subscribed.text"] = out(func(w io.Writer) error { report.Subscribed(w, fxSubscribed()); return nil })
	cases["subscribed-none.text"] = out(func(w io.Writer) error { report.Subscribed(w, subscription.Result{}); return nil })
	cases["tested.text"] = out(func(w io.Writer) error {
		report.TestEvents(w, []string{"idn:identity-created", "idn:identity-attributes-changed"})
		return nil
	})
	for _, f := range []string{"text", "json"} {
		cases["subscriptions."+f] = out(func(w io.Writer) error { return report.Subscriptions(w, f, fxSubscriptions()) })
		cases["subscriptions-empty."+f] = out(func(w io.Writer) error { return report.Subscriptions(w, f, []subscription.Record{}) })
	}
	return cases
}

// TestReportsMatchGolden checks every report of the fixtures byte for byte:
// column widths, time formats, empty cases, which stream the lines go to
// and the error.
func TestReportsMatchGolden(t *testing.T) {
	cases := goldenCases()
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !*update && len(files) != len(cases) {
		t.Errorf("%d golden files, %d cases: run go test -update and review the new files", len(files), len(cases))
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(&stdout, &stderr)
			got := "--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String()
			if err != nil {
				got += "--- error\n" + err.Error() + "\n"
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s\ngot:\n%s\nwant:\n%s", name, path, got, want)
			}
		})
	}
}

func TestStatusWithoutInitialisationWritesNothing(t *testing.T) {
	var w bytes.Buffer
	err := report.Status(&w, "text", fxStatusNoInit(), fxDB, fxNow)
	if !errors.Is(err, store.ErrNotFound) || w.Len() != 0 {
		t.Errorf("Status = %v, wrote %q; want store.ErrNotFound and nothing", err, w.String())
	}
}

func TestJobStatesAreRivers(t *testing.T) {
	var river []string
	for _, s := range rivertype.JobStates() {
		river = append(river, string(s))
	}
	// "failed" stands for River's states of a job that gave up.
	ours := slices.DeleteFunc(report.JobStates(), func(s string) bool { return s == queue.StateFailed })
	for _, s := range river {
		if queue.Failed(s) {
			ours = append(ours, s)
		}
	}
	slices.Sort(river)
	slices.Sort(ours)
	if !slices.Equal(ours, river) {
		t.Errorf("JobStates() = %v, River's are %v", ours, river)
	}
}
