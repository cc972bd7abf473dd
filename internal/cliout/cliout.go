// Package cliout is what inviter's commands print: aligned tables with UTC
// times and their age for people, JSON and CSV for scripts, and the
// -o/--output flag that chooses between them.
package cliout

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// TimeLayout is how a time is printed for people (UTC).
const TimeLayout = "2006-01-02 15:04:05Z"

// Format is an -o/--output value: one of the formats a command offers.
type Format struct {
	format  string
	formats []string
}

// NewFormat returns a Format offering formats, the first the default.
func NewFormat(formats ...string) Format {
	return Format{format: formats[0], formats: formats}
}

// Is reports whether the format chosen is f.
func (o *Format) Is(f string) bool { return o.format == f }

// String implements pflag.Value: the format chosen.
func (o *Format) String() string { return o.format }

// Type implements pflag.Value: the formats offered.
func (o *Format) Type() string { return strings.Join(o.formats, "|") }

// Set implements pflag.Value; a format not offered is an error.
func (o *Format) Set(s string) error {
	if !slices.Contains(o.formats, s) {
		return fmt.Errorf("want %s", strings.Join(o.formats, ", "))
	}
	o.format = s
	return nil
}

// Register adds the flag -o/--output to cmd.
func (o *Format) Register(cmd *cobra.Command) {
	cmd.Flags().VarP(o, "output", "o", "output format: "+strings.Join(o.formats, ", "))
}

// Stamp formats t for a table: the UTC time and how long ago (or ahead) it
// is; "-" for the zero time.
func Stamp(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(TimeLayout) + " (" + Age(t, now) + ")"
}

// Age says how far t is from now, roughly: "12s ago", "3m ago", "in 2h".
func Age(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// OneLine cuts s to its first line and at most max characters, marking a
// cut with "…"; "-" for an empty s.
func OneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "-"
	}
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, cut = strings.TrimSpace(s[:i]), true
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s, cut = string(r[:max-1]), true
	}
	if cut {
		s += "…"
	}
	return s
}

// Dash stands in for an empty table cell.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Table returns a writer that aligns tab-separated columns two spaces
// apart; Flush it at the end.
func Table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// Counts writes a row of names and under it a row of their counts,
// aligned, after a label.
func Counts(w io.Writer, label string, names []string, counts map[string]int64) error {
	tw := Table(w)
	fmt.Fprintf(tw, "%-10s", label)
	for _, s := range names {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintf(tw, "\n%-10s", "")
	for _, s := range names {
		fmt.Fprintf(tw, "\t%d", counts[s])
	}
	fmt.Fprint(tw, "\n")
	return tw.Flush()
}

// JSON writes v as indented JSON, leaving &, < and > as they are (a DSN's &
// stays readable).
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// CSV writes header and rows as RFC 4180 CSV.
func CSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// CSVTime formats t for CSV: RFC 3339 in UTC, empty for the zero time.
func CSVTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
