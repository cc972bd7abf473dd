package isc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// userList is an in-memory /cc/api/user/list: offset paging, at most 250 a
// page, stable order, new users at the end.
type userList struct {
	mu    sync.Mutex
	users []CCUser
	next  int // ids handed out so far
	calls atomic.Int32
	delay time.Duration
}

func newUserList(n int) *userList {
	l := &userList{}
	for range n {
		l.add()
	}
	return l
}

func (l *userList) add() CCUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.next
	l.next++
	u := CCUser{ID: fmt.Sprint(100000 + i), ExternalID: fmt.Sprintf("%032x", i+1), Status: "UNREGISTERED"}
	if i%3 == 0 {
		u.Status = "ACTIVE"
	}
	l.users = append(l.users, u)
	return u
}

func (l *userList) ListCCUsers(_ context.Context, start, limit int) (CCUserPage, error) {
	l.calls.Add(1)
	time.Sleep(l.delay)
	l.mu.Lock()
	defer l.mu.Unlock()
	limit = min(limit, CCPageSize)
	end := min(start+limit, len(l.users))
	start = min(start, end)
	return CCUserPage{Total: len(l.users), Items: slices.Clone(l.users[start:end])}, nil
}

func TestDirectoryCallCount(t *testing.T) {
	t.Parallel()
	const users, lookups = 20000, 1000
	list := newUserList(users)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
	ctx := context.Background()
	for i := range lookups {
		id := fmt.Sprintf("%032x", i*20+1) // spread over the whole list
		e, err := d.Lookup(ctx, id)
		if err != nil {
			t.Fatalf("lookup %s: %v", id, err)
		}
		if want := fmt.Sprint(100000 + i*20); e.CCID != want {
			t.Fatalf("lookup %s: cc id %s, want %s", id, e.CCID, want)
		}
	}
	// ceil(20000/250) = 80 list calls for 1,000 identities, not 1000×80/2.
	if got := list.calls.Load(); got != 80 {
		t.Errorf("list calls = %d, want 80", got)
	}
}

func TestDirectoryIncrementalRefresh(t *testing.T) {
	t.Parallel()
	list := newUserList(1000)
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := d.Lookup(ctx, fmt.Sprintf("%032x", 1)); err != nil {
		t.Fatal(err)
	}
	if got := list.calls.Load(); got != 4 {
		t.Fatalf("initial scan: %d calls, want 4", got)
	}
	fresh := list.add()
	if _, err := d.Lookup(ctx, fresh.ExternalID); !errors.Is(err, ErrNotInDirectory) {
		t.Fatalf("lookup before MinRefresh: %v, want ErrNotInDirectory", err)
	}
	if got := list.calls.Load(); got != 4 {
		t.Fatalf("a miss within MinRefresh called the list (%d calls)", got)
	}
	now = now.Add(2 * time.Second)
	e, err := d.Lookup(ctx, fresh.ExternalID)
	if err != nil || e.CCID != fresh.ID {
		t.Fatalf("lookup after refresh: %v %v", e, err)
	}
	if got := list.calls.Load(); got != 5 {
		t.Errorf("incremental refresh cost %d calls, want 1", got-4)
	}

	// Removing a user shifts offsets: the anchor check fails and a full
	// scan rebuilds the index.
	list.mu.Lock()
	list.users = list.users[1:]
	list.mu.Unlock()
	fresh = list.add()
	now = now.Add(2 * time.Second)
	if _, err := d.Lookup(ctx, fresh.ExternalID); err != nil {
		t.Fatalf("lookup after reorder: %v", err)
	}
	if _, err := d.Lookup(ctx, fmt.Sprintf("%032x", 1)); !errors.Is(err, ErrNotInDirectory) {
		t.Errorf("removed user still found after the full scan: %v", err)
	}
	if d.Len() != 1001 {
		t.Errorf("Len = %d, want 1001", d.Len())
	}
}

func TestDirectoryConcurrentMissesShareOneRefresh(t *testing.T) {
	t.Parallel()
	list := newUserList(2000)
	list.delay = 5 * time.Millisecond
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := d.Lookup(context.Background(), fmt.Sprintf("%032x", i+1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := list.calls.Load(); got != 8 {
		t.Errorf("50 concurrent misses cost %d list calls, want 8 (one scan)", got)
	}
}

func TestDirectoryRegisteredAndOddIDs(t *testing.T) {
	t.Parallel()
	list := &userList{}
	list.users = []CCUser{
		{ID: "17", ExternalID: "2c91808568c529c60168cca6f90c1313", Status: "ACTIVE"},
		{ID: "abc", ExternalID: "2c91808568c529c60168cca6f90c1314", Status: "UNREGISTERED"},
		{ID: "18", ExternalID: "not-hex-id", Status: "UNREGISTERED"},
	}
	d := NewDirectory(list, DirectoryOptions{})
	want := map[string]DirectoryEntry{
		"2c91808568c529c60168cca6f90c1313": {CCID: "17", Registered: true},
		"2c91808568c529c60168cca6f90c1314": {CCID: "abc"},
		"not-hex-id":                       {CCID: "18"},
	}
	for id, w := range want {
		got, err := d.Lookup(context.Background(), id)
		if err != nil || got != w {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", id, got, err, w)
		}
	}
}

func BenchmarkDirectoryLookup(b *testing.B) {
	list := newUserList(20000)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i*19+1)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := d.Lookup(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDirectoryIndexBuild(b *testing.B) {
	list := newUserList(20000)
	b.ReportAllocs()
	for b.Loop() {
		d := NewDirectory(list, DirectoryOptions{})
		if err := d.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectoryMemory reports the index's heap bytes per user for
// 1,000,000 users (run with -bench DirectoryMemory -benchtime 1x).
func BenchmarkDirectoryMemory(b *testing.B) {
	const n = 1_000_000
	list := newUserList(n)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d := NewDirectory(list, DirectoryOptions{})
		if err := d.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/user")
		runtime.KeepAlive(d)
	}
}
