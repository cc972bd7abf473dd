package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
)

// opsBundle is a database in a known state for the operator commands:
// four identities delivered by events; id-invited invited, id-failed failed
// (its job cancelled), id-notfound not found yet (its job cancelled),
// id-pending untouched.
type opsBundle struct {
	dsn  string
	db   *store.DB
	q    *queue.Queue
	jobs map[string]int64 // identity id → its invite job
	base time.Time        // the audit rows are at base+1s, +2s, +3s: an hour and a half ago
}

const failedReason = "permanent: 400 Bad Request\nsecond line, \"quoted\", with a comma"

func setupOps(t *testing.T, b storetest.Backend) *opsBundle {
	t.Helper()
	ctx := t.Context()
	dsn := b.DSN(t)
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := queue.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(db, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &opsBundle{dsn: dsn, db: db, q: q, jobs: map[string]int64{}, base: time.Now().UTC().Add(-90 * time.Minute).Truncate(time.Second)}
	for _, id := range []string{"id-invited", "id-failed", "id-notfound", "id-pending"} {
		ev := inviter.IdentityCreated{Identity: inviter.IdentityRef{Type: "IDENTITY", ID: id, Name: "User " + id}}
		raw, _ := json.Marshal(ev)
		res, err := q.AcceptDelivery(ctx, ev, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		o.jobs[id] = res.JobID
	}
	decisions := []store.Decision{
		{AuditEntry: store.AuditEntry{IdentityID: "id-invited", At: o.base.Add(1 * time.Second), Outcome: inviter.OutcomeInvited,
			API: inviter.APIPublic, TaskID: "task-1", BatchID: "batch-1", Attempt: 1, Source: inviter.SourceEvent}, State: inviter.StateInvited},
		{AuditEntry: store.AuditEntry{IdentityID: "id-failed", At: o.base.Add(2 * time.Second), Outcome: inviter.OutcomeFailed,
			Reason: failedReason, API: inviter.APICC, CCID: "cc-42", BatchID: "batch-2", Attempt: 3, Source: inviter.SourceEvent}, State: inviter.StateFailed},
		{AuditEntry: store.AuditEntry{IdentityID: "id-notfound", At: o.base.Add(3 * time.Second), Outcome: inviter.OutcomeNotFound,
			Reason: "ISC does not know this identity (yet)", API: inviter.APIPublic, BatchID: "batch-3", Attempt: 1, Source: inviter.SourceEvent}},
	}
	for _, d := range decisions {
		if err := db.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"id-failed", "id-notfound"} {
		if _, err := q.CancelJob(ctx, o.jobs[id]); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// ops runs inviter with args against o's database and fails t on an error.
func (o *opsBundle) ops(t *testing.T, args ...string) string {
	t.Helper()
	r := runInviter(t, testContext(t), nil, append(args, "--db", o.dsn)...)
	if r.err != nil {
		t.Fatalf("inviter %s: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, s)
	}
	return v
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, s)
	}
	return recs
}

var utcStamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(`)

func TestOpsCommands(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			o := setupOps(t, b)

			t.Run("status", func(t *testing.T) {
				text := o.ops(t, "status")
				for _, want := range []string{"(" + b.Name + ")", "reconcile last run  never", "deliveries          4",
					"the reconcile cut-off", "id-notfound", "not_found", "permanent: 400 Bad Request…"} {
					if !strings.Contains(text, want) {
						t.Errorf("status lacks %q:\n%s", want, text)
					}
				}
				if !utcStamp.MatchString(text) {
					t.Errorf("status shows no UTC time with its age:\n%s", text)
				}

				rep := decodeJSON[report.StatusReport](t, o.ops(t, "status", "-o", "json"))
				wantIDs := map[string]int64{"pending": 2, "invited": 1, "failed": 1, "skipped": 0}
				for s, n := range wantIDs {
					if rep.Identities[s] != n {
						t.Errorf("identities %s = %d, want %d (%v)", s, rep.Identities[s], n, rep.Identities)
					}
				}
				if rep.Deliveries != 4 || rep.Jobs["available"] != 2 || rep.Jobs["failed"] != 2 || len(rep.Jobs) != len(report.JobStates()) {
					t.Errorf("deliveries %d, jobs %v; want 4, 2 available, 2 failed, every state", rep.Deliveries, rep.Jobs)
				}
				if rep.Backend != b.Name || rep.InitialisedAt.IsZero() || rep.ReconcileLastRun != nil {
					t.Errorf("backend %q, initialised %v, reconcile last run %v", rep.Backend, rep.InitialisedAt, rep.ReconcileLastRun)
				}
				if len(rep.LastErrors) != 2 || rep.LastErrors[0].IdentityID != "id-notfound" || rep.LastErrors[1].IdentityID != "id-failed" ||
					rep.LastErrors[1].Reason != failedReason || rep.LastErrors[1].IdentityState != "failed" || rep.LastErrors[0].IdentityState != "pending" {
					t.Errorf("last errors = %+v, want id-notfound then id-failed with reasons", rep.LastErrors)
				}

				last := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
				if err := o.db.SetMeta(t.Context(), reconcile.MetaLastRun, last.Format(time.RFC3339)); err != nil {
					t.Fatal(err)
				}
				rep = decodeJSON[report.StatusReport](t, o.ops(t, "status", "-o", "json"))
				if rep.ReconcileLastRun == nil || *rep.ReconcileLastRun != "2026-11-02T09:30:00Z" {
					t.Errorf("reconcile last run = %v, want 2026-11-02T09:30:00Z", rep.ReconcileLastRun)
				}
				if text := o.ops(t, "status"); !strings.Contains(text, "reconcile last run  2026-11-02 09:30:00Z (") {
					t.Errorf("status does not show reconcile's last run:\n%s", text)
				}
			})

			t.Run("jobs list", func(t *testing.T) {
				text := o.ops(t, "jobs", "list")
				if !strings.HasPrefix(text, "ID ") || !strings.Contains(text, "LAST ERROR") || strings.Count(text, "\n") != 5 {
					t.Errorf("jobs list text:\n%s", text)
				}
				jobs := decodeJSON[[]report.JobRecord](t, o.ops(t, "jobs", "list", "-o", "json"))
				if len(jobs) != 4 {
					t.Fatalf("jobs list: %d jobs, want 4", len(jobs))
				}
				for i, j := range jobs {
					if i > 0 && j.ID > jobs[i-1].ID {
						t.Errorf("jobs not newest first: %d after %d", j.ID, jobs[i-1].ID)
					}
					if j.Kind != queue.KindInvite || j.Source != string(inviter.SourceEvent) || o.jobs[j.IdentityID] != j.ID || j.MaxAttempts == 0 {
						t.Errorf("job %+v", j)
					}
				}
				cancelled := decodeJSON[[]report.JobRecord](t, o.ops(t, "jobs", "list", "--state", "cancelled", "-o", "json"))
				var ids []string
				for _, j := range cancelled {
					ids = append(ids, j.IdentityID)
					if j.State != "cancelled" || j.FinalizedAt.IsZero() {
						t.Errorf("cancelled job %+v", j)
					}
				}
				slices.Sort(ids)
				if !slices.Equal(ids, []string{"id-failed", "id-notfound"}) {
					t.Errorf("cancelled jobs are of %v", ids)
				}
				if failed := decodeJSON[[]report.JobRecord](t, o.ops(t, "jobs", "list", "--state", "failed", "-o", "json")); len(failed) != len(cancelled) {
					t.Errorf("--state failed lists %d jobs, want the %d cancelled ones", len(failed), len(cancelled))
				}
				recs := readCSV(t, o.ops(t, "jobs", "list", "--limit", "1", "-o", "csv"))
				if len(recs) != 2 || recs[0][0] != "id" || recs[0][3] != "identity_id" || recs[1][0] != strconv.FormatInt(jobs[0].ID, 10) {
					t.Errorf("jobs list --limit 1 csv = %q", recs)
				}
				if text := o.ops(t, "jobs", "list", "--state", "discarded"); text != "no jobs in state discarded\n" {
					t.Errorf("no discarded jobs: %q", text)
				}
			})

			t.Run("audit", func(t *testing.T) {
				text := o.ops(t, "audit")
				lines := strings.Split(strings.TrimSpace(text), "\n")
				if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "id-notfound") ||
					!strings.Contains(lines[3], "id-invited") || !strings.Contains(lines[2], "permanent: 400 Bad Request…") {
					t.Errorf("audit text:\n%s", text)
				}
				wantAt := o.base.Add(3 * time.Second).Format(cliout.TimeLayout)
				if !strings.HasPrefix(lines[1], wantAt+" (1h ago)") {
					t.Errorf("audit line %q does not start with %q", lines[1], wantAt+" (1h ago)")
				}

				all := decodeJSON[[]report.AuditRecord](t, o.ops(t, "audit", "-o", "json"))
				if len(all) != 3 || all[0].IdentityID != "id-notfound" || all[2].IdentityID != "id-invited" {
					t.Fatalf("audit json = %+v", all)
				}
				if inv := all[2]; inv.Outcome != "invited" || inv.TaskID != "task-1" || inv.API != "public" || inv.BatchID != "batch-1" ||
					inv.Attempt != 1 || inv.Source != "event" || !inv.At.Equal(o.base.Add(time.Second)) {
					t.Errorf("invited row = %+v", inv)
				}

				recs := readCSV(t, o.ops(t, "audit", "--identity", "id-failed", "-o", "csv"))
				if len(recs) != 2 || !slices.Equal(recs[0], []string{"id", "at", "identity_id", "outcome", "reason", "api", "cc_id", "task_id", "task_status", "batch_id", "attempt", "source"}) {
					t.Fatalf("audit csv = %q", recs)
				}
				row := map[string]string{}
				for i, h := range recs[0] {
					row[h] = recs[1][i]
				}
				if row["identity_id"] != "id-failed" || row["reason"] != failedReason || row["cc_id"] != "cc-42" || row["api"] != "cc" ||
					row["attempt"] != "3" || row["at"] != o.base.Add(2*time.Second).Format(time.RFC3339Nano) {
					t.Errorf("audit csv row = %v", row)
				}

				if got := decodeJSON[[]report.AuditRecord](t, o.ops(t, "audit", "--limit", "1", "-o", "json")); len(got) != 1 {
					t.Errorf("--limit 1 gave %d rows", len(got))
				}
				if text := o.ops(t, "audit", "--identity", "nobody"); text != "no audit entries for identity nobody\n" {
					t.Errorf("audit of an unknown identity: %q", text)
				}
				// INVITER_DB works as --db does.
				r := runInviter(t, testContext(t), map[string]string{"INVITER_DB": o.dsn}, "audit", "-o", "json")
				if r.err != nil || len(decodeJSON[[]report.AuditRecord](t, r.stdout)) != 3 {
					t.Errorf("audit with INVITER_DB: %v\n%s", r.err, r.stdout)
				}
			})
		})
	}
}

func TestOpsJobsRetry(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			o := setupOps(t, b)
			ctx := t.Context()

			id := o.jobs["id-failed"]
			text := o.ops(t, "jobs", "retry", strconv.FormatInt(id, 10))
			if !strings.Contains(text, "failed (cancelled)  available") || !strings.Contains(text, "retried 1 job;") {
				t.Errorf("retry output:\n%s", text)
			}
			if j, err := o.q.Job(ctx, id); err != nil || j.State != "available" {
				t.Errorf("job %d after retry: %+v, %v; want available", id, j, err)
			}

			r := runInviter(t, testContext(t), nil, "jobs", "retry", "987654", "--db", o.dsn)
			if exitCode(r.err) != 1 || r.err == nil || !strings.Contains(r.err.Error(), "no job with id 987654") {
				t.Errorf("retry of an unknown id: exit %d, %v", exitCode(r.err), r.err)
			}

			retried := decodeJSON[[]report.RetryRecord](t, o.ops(t, "jobs", "retry", "--all-failed", "-o", "json"))
			if len(retried) != 1 || retried[0].IdentityID != "id-notfound" || retried[0].PreviousState != "cancelled" || retried[0].State != "available" {
				t.Errorf("--all-failed retried %+v, want the id-notfound job only", retried)
			}
			st, err := o.q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Jobs["available"] != 4 || st.Jobs["cancelled"] != 0 {
				t.Errorf("jobs after --all-failed: %v, want 4 available", st.Jobs)
			}
			if text := o.ops(t, "jobs", "retry", "--all-failed"); text != "no failed invite jobs to retry\n" {
				t.Errorf("second --all-failed: %q", text)
			}
		})
	}
}

func TestOpsUsageErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "none.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "list", "--state", "dead"}, `--state "dead": want one of available, scheduled, running, retryable, completed, failed, pending`},
		{[]string{"jobs", "list", "--limit", "0"}, "--limit"},
		{[]string{"jobs", "list", "-o", "xml"}, "want text, json, csv"},
		{[]string{"status", "-o", "csv"}, "want text, json"},
		{[]string{"status", "extra"}, "unknown command"},
		{[]string{"audit", "--limit", "-1"}, "--limit"},
		{[]string{"jobs", "retry"}, "give a job id, or --all-failed"},
		{[]string{"jobs", "retry", "12", "--all-failed"}, "not both"},
		{[]string{"jobs", "retry", "twelve"}, `job id "twelve"`},
		{[]string{"jobs", "retry", "1", "2"}, "accepts at most 1 arg"},
	} {
		r := runInviter(t, testContext(t), nil, append(tc.args, "--db", path)...)
		if code := exitCode(r.err); code != 2 || r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("inviter %s: exit %d, %v; want exit 2 and %q", strings.Join(tc.args, " "), code, r.err, tc.want)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a usage error created %s: %v", path, err)
	}
}

func TestOpsMissingSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "nothing-here.db")
	for _, args := range [][]string{{"status"}, {"jobs", "list"}, {"jobs", "retry", "--all-failed"}, {"audit"}} {
		r := runInviter(t, testContext(t), map[string]string{"INVITER_DB": path}, args...)
		if exitCode(r.err) != 1 || r.err == nil || !strings.Contains(r.err.Error(), "no database at "+path) ||
			!strings.Contains(r.err.Error(), "inviter migrate") {
			t.Errorf("inviter %s on a missing file: exit %d, %v", strings.Join(args, " "), exitCode(r.err), r.err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the commands created %v in %s", entries, dir)
	}
}

func TestOpsNotMigrated(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			if b.Name == store.BackendSQLite { // an empty file, as a mistyped tool might leave
				db, err := store.Open(t.Context(), dsn, nil)
				if err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			for _, args := range [][]string{{"status"}, {"jobs", "list"}, {"audit"}} {
				r := runInviter(t, testContext(t), nil, append(args, "--db", dsn)...)
				if exitCode(r.err) != 1 || r.err == nil || !strings.Contains(r.err.Error(), "was never migrated") ||
					!strings.Contains(r.err.Error(), "inviter serve") || !strings.Contains(r.err.Error(), redact.DSN(dsn)) {
					t.Errorf("inviter %s on an unmigrated database: exit %d, %v", strings.Join(args, " "), exitCode(r.err), r.err)
				}
			}
		})
	}
}

func TestOpsNeverPrintsPassword(t *testing.T) {
	t.Parallel()
	dsn := "postgres://inviter:s3cret-pw@127.0.0.1:1/inviter?sslmode=disable&connect_timeout=2"
	r := runInviter(t, testContext(t), nil, "status", "--db", dsn)
	if r.err == nil {
		t.Fatal("status on an unreachable database succeeded")
	}
	if out := r.err.Error() + r.stdout + r.stderr; strings.Contains(out, "s3cret-pw") {
		t.Errorf("the password shows: %s", out)
	}
}
