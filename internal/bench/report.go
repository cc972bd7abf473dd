package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the results of the invite and ingest scenarios of one run.
type Report struct {
	Config Config
	// Invites has one result per invite path measured.
	Invites []InviteResult
	// Ingest is the ingest scenario's result, nil when it did not run.
	Ingest *IngestResult
}

// Print prints the tables, their notes and one RESULT line per scenario.
func (r Report) Print(w io.Writer) {
	cfg := r.Config
	fmt.Fprintln(w)
	if len(r.Invites) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "invite\tusers\tevents\tinvited\tdup\tcalls\tinvite\tlist\ttoken\tother\t429s\tcalls/invite\tnaive calls\tratio\twall s\tp50 ms\tp99 ms\t")
		for _, r := range r.Invites {
			naive := fmt.Sprint(r.NaiveCalls)
			if r.NaiveSampled > 0 {
				naive = "≈" + naive + "*"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.4f\t%s\t%.5f\t%.2f\t%d\t%d\t\n",
				r.API, cfg.Users, cfg.Events, r.Invited, r.Duplicates, r.Calls.Total, r.Calls.Invite, r.Calls.List, r.Calls.Token, r.Calls.Other,
				r.RateLimited, r.CallsPerInvite(), naive, r.Ratio(), r.Wall.Seconds(), r.P50.Milliseconds(), r.P99.Milliseconds())
		}
		tw.Flush()
		for _, r := range r.Invites {
			if r.NaiveSampled > 0 {
				fmt.Fprintf(w, "* naive %s ran %d of %d events (evenly spread) and was extrapolated\n", r.API, r.NaiveSampled, cfg.Events)
			}
			var eps []string
			for _, ep := range slices.Sorted(maps.Keys(r.Calls.ByEndpoint)) {
				eps = append(eps, fmt.Sprintf("%s=%d", ep, r.Calls.ByEndpoint[ep]))
			}
			fmt.Fprintf(w, "  %s calls by endpoint: %s\n", r.API, strings.Join(eps, ", "))
		}
		fmt.Fprintln(w)
	}
	if in := r.Ingest; in != nil {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ingest\tbackend\tsenders\tsent\tacked\tfailed\tstored\tacked/s\twall s\tp50 ms\tp99 ms\t")
		for _, r := range []*IngestResult{in, in.Reference} {
			if r == nil {
				continue
			}
			name := "inviter"
			if r == in.Reference {
				name = "River InsertTx"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.1f\t%.1f\t\n", name, r.Backend, r.Senders, r.Sent, r.Acked, r.Failed, r.Stored,
				r.PerSecond(), r.Wall.Seconds(), millis(r.P50), millis(r.P99))
		}
		tw.Flush()
		if in.Reference != nil {
			fmt.Fprintf(w, "inviter ÷ River's bare InsertTx (one transaction per job, no HTTP, same driver and synchronous setting): %.2f\n", in.ReferenceRatio())
		}
		fmt.Fprintln(w)
	}
	for _, r := range r.Invites {
		naive := fmt.Sprintf("naive_calls=%d", r.NaiveCalls)
		if r.NaiveSampled > 0 {
			naive = fmt.Sprintf("naive_calls≈%d (sampled %d events)", r.NaiveCalls, r.NaiveSampled)
		}
		fmt.Fprintf(w, "RESULT scenario=invite api=%s users=%d events=%d invited=%d duplicates=%d calls=%d invite_calls=%d list_calls=%d token_calls=%d other_calls=%d rate_limited=%d calls_per_invite=%.4f %s ratio=%.5f wall_s=%.2f p50_ms=%d p99_ms=%d faults=%t late_visibility=%s\n",
			r.API, cfg.Users, cfg.Events, r.Invited, r.Duplicates, r.Calls.Total, r.Calls.Invite, r.Calls.List, r.Calls.Token, r.Calls.Other, r.RateLimited,
			r.CallsPerInvite(), naive, r.Ratio(), r.Wall.Seconds(), r.P50.Milliseconds(), r.P99.Milliseconds(), cfg.Faults, cfg.LateVisibility)
	}
	if r := r.Ingest; r != nil {
		ref := ""
		if rr := r.Reference; rr != nil {
			ref = fmt.Sprintf(" river_inserttx_per_s=%.0f river_p50_ms=%.1f river_p99_ms=%.1f ratio_to_river=%.2f", rr.PerSecond(), millis(rr.P50), millis(rr.P99), r.ReferenceRatio())
		}
		fmt.Fprintf(w, "RESULT scenario=ingest backend=%s senders=%d deliveries=%d acked=%d failed=%d stored=%d acked_per_s=%.0f wall_s=%.2f p50_ms=%.1f p99_ms=%.1f%s\n",
			r.Backend, r.Senders, r.Sent, r.Acked, r.Failed, r.Stored, r.PerSecond(), r.Wall.Seconds(),
			millis(r.P50), millis(r.P99), ref)
	}
}

// Failures lists what the run measured wrong: a wave not wholly invited,
// an identity invited more than once, a delivery not acknowledged or not
// stored.
func (r Report) Failures() []string {
	var failures []string
	for _, res := range r.Invites {
		if res.Invited != r.Config.Events {
			failures = append(failures, fmt.Sprintf("%s: %d of %d identities invited", res.API, res.Invited, r.Config.Events))
		}
		if res.Duplicates > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d identities invited more than once", res.API, res.Duplicates))
		}
	}
	if in := r.Ingest; in != nil && (in.Acked != in.Sent || in.Stored < in.Acked) {
		failures = append(failures, fmt.Sprintf("ingest: %d sent, %d acknowledged, %d stored", in.Sent, in.Acked, in.Stored))
	}
	return failures
}

// ScaleReport is the scale scenario's cells of one run.
type ScaleReport struct {
	Config Config
	Cells  []ScaleCell
}

// Print prints the scale table, its notes and one RESULT line per cell.
func (s ScaleReport) Print(w io.Writer) {
	cfg := s.Config
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tusers\twave\tinvited\tdup\tcalls\tcalls/joiner\twall s\tfloor s\twall/floor\tdaemon CPU s\tpeak RSS MB\tDB B/delivery\tp50 ms\tp99 ms\t")
	for _, c := range s.Cells {
		if c.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\t%d\tskipped: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", c.API, c.Users, c.Wave, c.Skipped)
			continue
		}
		cpu := "-"
		if c.CPU > 0 {
			cpu = fmt.Sprintf("%.1f", c.CPU.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.1f\t%.1f\t%.2f\t%s\t%.0f\t%d\t%d\t%d\t\n",
			c.API, c.Users, c.Wave, c.Invited, c.Duplicates, c.Calls, c.CallsPerJoiner(), c.Wall.Seconds(), c.Floor.Seconds(),
			c.FloorRatio(), cpu, float64(c.PeakRSS)/(1<<20), c.DBBytes/int64(max(c.Wave, 1)), c.P50.Milliseconds(), c.P99.Milliseconds())
	}
	tw.Flush()
	measured := "VmHWM of the inviter serve child process, reset before each wave"
	if cfg.Daemon == DaemonInProcess {
		measured = "VmHWM of this process (daemon, fake tenant and bench together), reset before each wave"
	}
	fmt.Fprintf(w, "rate %s per API version (client and tenant); floor = the most calls on one API version ÷ that rate (token calls are not limited)\n", cfg.rate())
	fmt.Fprintf(w, "daemon CPU: user+system seconds of the serve child during the wave (the fake tenant and the bench use the rest of the machine)\n")
	fmt.Fprintf(w, "peak RSS: %s; DB: SQLite file + WAL after the daemon stopped, ÷ wave; wall: first event to last first invitation; %d events in flight at most\n", measured, scaleInFlight)
	fmt.Fprintln(w)
	for _, c := range s.Cells {
		if c.Skipped != "" {
			fmt.Fprintf(w, "RESULT scenario=scale api=%s users=%d wave=%d skipped=cell-budget estimated_s=%.0f cell_budget=%s\n", c.API, c.Users, c.Wave, c.Estimate.Seconds(), cfg.CellBudget)
			continue
		}
		fmt.Fprintf(w, "RESULT scenario=scale api=%s users=%d wave=%d invited=%d duplicates=%d calls=%d calls_per_joiner=%.4f wall_s=%.2f floor_s=%.2f wall_per_floor=%.3f rate=%s daemon_cpu_s=%.1f peak_rss_bytes=%d db_bytes_per_delivery=%d p50_ms=%d p99_ms=%d daemon=%s\n",
			c.API, c.Users, c.Wave, c.Invited, c.Duplicates, c.Calls, c.CallsPerJoiner(), c.Wall.Seconds(), c.Floor.Seconds(), c.FloorRatio(),
			cfg.rate(), c.CPU.Seconds(), c.PeakRSS, c.DBBytes/int64(max(c.Wave, 1)), c.P50.Milliseconds(), c.P99.Milliseconds(), cfg.Daemon)
	}
}

// Failures lists the cells that ran and did not invite their whole wave
// exactly once.
func (s ScaleReport) Failures() []string {
	var failures []string
	for _, c := range s.Cells {
		if c.Skipped == "" && (c.Invited != c.Wave || c.Duplicates > 0) {
			failures = append(failures, fmt.Sprintf("scale %s users=%d wave=%d: %d invited, %d more than once", c.API, c.Users, c.Wave, c.Invited, c.Duplicates))
		}
	}
	return failures
}
