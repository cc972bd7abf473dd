package isc

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDirectoryLookupMany measures the lookup of one invite batch of
// 100 ids, all hits, as the /cc invite path does (LookupMany).
func BenchmarkDirectoryLookupMany(b *testing.B) {
	list := newUserList(20000)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	batch := make([]string, 100)
	for i := range batch {
		batch[i] = fmt.Sprintf("%032x", i*197+1)
	}
	b.ReportAllocs()
	for b.Loop() {
		found, err := d.LookupMany(ctx, batch)
		if err != nil || len(found) != len(batch) {
			b.Fatalf("LookupMany found %d of %d: %v", len(found), len(batch), err)
		}
	}
}

// BenchmarkDirectoryIncrementalRefresh measures a refresh after 250 users
// were appended to a list of 20,000: it should read the tail (2 pages), not
// rebuild the index.
func BenchmarkDirectoryIncrementalRefresh(b *testing.B) {
	list := newUserList(20000)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	calls := d.ListCalls()
	for b.Loop() {
		b.StopTimer()
		for range 250 {
			list.add()
		}
		b.StartTimer()
		if err := d.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.ListCalls()-calls)/float64(b.N), "pages/refresh")
}
