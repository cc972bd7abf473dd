package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// countsRows writes a row of names and under it a row of their counts,
// aligned, after a label.
func countsRows(w io.Writer, label string, names []string, counts map[string]int64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
