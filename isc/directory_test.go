package isc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter"
)

// listOrder is where a userList puts a new user.
type listOrder int

const (
	orderCreated listOrder = iota // appended
	orderName                     // sorted by name: new users land anywhere
	orderNewest                   // put in front
)

// userList is an in-memory /cc/api/user/list: offset paging, at most 250 a
// page, new users placed by order.
type userList struct {
	mu     sync.Mutex
	users  []CCUser
	next   int // ids handed out so far
	order  listOrder
	rng    *rand.Rand
	calls  atomic.Int32
	delay  time.Duration
	onCall func(l *userList, start int) // runs under mu before a page is served
	// pageCap, when set, is the most users a page holds (a tenant whose
	// cap is below 250); pageTotal makes total the page's own count, and
	// noTotal leaves it out.
	pageCap   int
	pageTotal bool
	noTotal   bool
}

func newUserList(n int) *userList { return newOrderedList(n, orderCreated) }

func newOrderedList(n int, o listOrder) *userList {
	l := &userList{order: o, rng: rand.New(rand.NewPCG(1, 2))}
	for range n {
		l.add()
	}
	return l
}

func (l *userList) add() CCUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addLocked()
}

func (l *userList) addLocked() CCUser {
	i := l.next
	l.next++
	u := CCUser{ID: fmt.Sprint(100000 + i), ExternalID: fmt.Sprintf("%032x", i+1), Status: "UNREGISTERED", Email: fmt.Sprintf("user.%d@example.com", i)}
	if i%3 == 0 {
		u.Status = "ACTIVE"
	}
	switch l.order {
	case orderName:
		u.Name = fmt.Sprintf("%08d", l.rng.IntN(100_000_000))
		k, _ := slices.BinarySearchFunc(l.users, u.Name, func(a CCUser, name string) int { return strings.Compare(a.Name, name) })
		l.users = slices.Insert(l.users, k, u)
	case orderNewest:
		l.users = slices.Insert(l.users, 0, u)
	default:
		l.users = append(l.users, u)
	}
	return u
}

func (l *userList) ListCCUsers(_ context.Context, start, limit int) (CCUserPage, error) {
	l.calls.Add(1)
	time.Sleep(l.delay)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.onCall != nil {
		l.onCall(l, start)
	}
	limit = min(limit, CCPageSize)
	if l.pageCap > 0 {
		limit = min(limit, l.pageCap)
	}
	end := min(start+limit, len(l.users))
	start = min(start, end)
	page := CCUserPage{Total: len(l.users), Items: slices.Clone(l.users[start:end])}
	switch {
	case l.noTotal:
		page.Total = 0
	case l.pageTotal:
		page.Total = len(page.Items)
	}
	return page, nil
}

// TestDirectoryTrustsNoSinglePagingSignal: the /cc list's total and page
// size are undocumented; a tenant whose total counts only the page, that
// gives none, or whose pages hold fewer than 250 users is still read to
// its end, and every user is found. (Pages under 250 with a total that is
// wrong or absent as well cannot be told from the list's end.)
// Inferred: total is the whole list's count and a page holds up to 250;
// neither is relied on alone.
func TestDirectoryTrustsNoSinglePagingSignal(t *testing.T) {
	t.Parallel()
	for name, set := range map[string]func(*userList){
		"total of the page": func(l *userList) { l.pageTotal = true },
		"no total":          func(l *userList) { l.noTotal = true },
		"pages of 100":      func(l *userList) { l.pageCap = 100 },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const users = 1000
			list := newUserList(users)
			set(list)
			d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
			ctx := context.Background()
			for i := 0; i < users; i += 37 {
				id := fmt.Sprintf("%032x", i+1)
				e, err := d.Lookup(ctx, id)
				if err != nil {
					t.Fatalf("lookup %s (user %d of %d): %v", id, i, users, err)
				}
				if want := fmt.Sprint(100000 + i); e.CCID != want {
					t.Fatalf("lookup %s: cc id %s, want %s", id, e.CCID, want)
				}
			}
			if got := list.calls.Load(); got > 30 {
				t.Errorf("list calls = %d, want one scan (at most 30)", got)
			}
		})
	}
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
	// One scan of overlapping pages: 1 + ceil(19750/249) = 81 list calls
	// for 1,000 identities, not 1000×80/2.
	if got := list.calls.Load(); got != 81 {
		t.Errorf("list calls = %d, want 81", got)
	}
}

func TestDirectoryIncrementalRefresh(t *testing.T) {
	t.Parallel()
	list := newUserList(1000)
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, MissFullScanEvery: time.Hour, Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := d.Lookup(ctx, fmt.Sprintf("%032x", 1)); err != nil {
		t.Fatal(err)
	}
	if got := list.calls.Load(); got != 5 {
		t.Fatalf("initial scan: %d calls, want 5", got)
	}
	fresh := list.add()
	if _, err := d.Lookup(ctx, fresh.ExternalID); !errors.Is(err, ErrNotInDirectory) {
		t.Fatalf("lookup before MinRefresh: %v, want ErrNotInDirectory", err)
	}
	if got := list.calls.Load(); got != 5 {
		t.Fatalf("a miss within MinRefresh called the list (%d calls)", got)
	}
	now = now.Add(2 * time.Second)
	e, err := d.Lookup(ctx, fresh.ExternalID)
	if err != nil || e.CCID != fresh.ID {
		t.Fatalf("lookup after refresh: %v %v", e, err)
	}
	if got := list.calls.Load(); got != 6 {
		t.Errorf("incremental refresh cost %d calls, want 1", got-5)
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
	if st := d.Stats(); st.FullScans != 2 {
		t.Errorf("%d full scans, want 2", st.FullScans)
	}
}

// TestDirectoryNewestFirstIsIncremental: users put in front of the list
// are read from its first page, without a full scan.
func TestDirectoryNewestFirstIsIncremental(t *testing.T) {
	t.Parallel()
	list := newOrderedList(1000, orderNewest)
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, Now: func() time.Time { return now }})
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := list.calls.Load()
	var fresh []CCUser
	for range 10 {
		fresh = append(fresh, list.add())
	}
	now = now.Add(2 * time.Second)
	for _, u := range fresh {
		if e, err := d.Lookup(ctx, u.ExternalID); err != nil || e.CCID != u.ID {
			t.Fatalf("lookup %s: %+v %v", u.ExternalID, e, err)
		}
	}
	if got := list.calls.Load() - before; got != 2 {
		t.Errorf("refresh after 10 users put in front cost %d calls, want 2 (tail check, first page)", got)
	}
	if st := d.Stats(); st.FullScans != 1 {
		t.Errorf("%d full scans, want 1", st.FullScans)
	}
}

// TestDirectoryAnyOrderFindsNewUsers: whatever the order, a user added
// after a scan is found once the index refreshes.
func TestDirectoryAnyOrderFindsNewUsers(t *testing.T) {
	t.Parallel()
	for _, o := range []listOrder{orderCreated, orderName, orderNewest} {
		list := newOrderedList(3000, o)
		now := time.Unix(0, 0)
		d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, Now: func() time.Time { return now }})
		ctx := context.Background()
		if err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			var fresh []CCUser
			for range 37 {
				fresh = append(fresh, list.add())
			}
			now = now.Add(2 * time.Second)
			for _, u := range fresh {
				if e, err := d.Lookup(ctx, u.ExternalID); err != nil || e.CCID != u.ID {
					t.Fatalf("order %d round %d: lookup %s: %+v %v", o, round, u.ExternalID, e, err)
				}
			}
		}
		if d.Len() != 3000+5*37 {
			t.Errorf("order %d: Len = %d, want %d", o, d.Len(), 3000+5*37)
		}
	}
}

// TestDirectoryListChangesUnderTheScan: users inserted before the cursor
// and removed behind it while a full scan runs. Every user listed before
// the scan began and still listed is found by that scan or the next one.
func TestDirectoryListChangesUnderTheScan(t *testing.T) {
	t.Parallel()
	for _, o := range []listOrder{orderCreated, orderName, orderNewest} {
		list := newOrderedList(5000, o)
		list.mu.Lock()
		before := slices.Clone(list.users)
		list.mu.Unlock()
		scans := 0
		list.onCall = func(l *userList, start int) {
			if start == 0 {
				scans++
			}
			if scans > 1 || start == 0 {
				return // the list changes under the first read only
			}
			// Remove two users before the cursor and add three anywhere.
			l.users = slices.Delete(l.users, 10, 12)
			for range 3 {
				l.addLocked()
			}
		}
		d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
		ctx := context.Background()
		if err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		list.mu.Lock()
		now := map[string]bool{}
		for _, u := range list.users {
			now[u.ExternalID] = true
		}
		list.mu.Unlock()
		missed := 0
		for _, u := range before {
			if !now[u.ExternalID] {
				continue // removed
			}
			if _, err := d.Lookup(ctx, u.ExternalID); err != nil {
				missed++
			}
		}
		if missed > 0 {
			t.Errorf("order %d: %d users listed before the scan not found", o, missed)
		}
		st := d.Stats()
		// Created order: the three land behind the cursor and the list
		// shifts left, which costs one more read. Newest first: the list
		// shifts right (no user can slide behind the cursor): none.
		if want := map[listOrder]int{orderCreated: 1, orderNewest: 0}[o]; o != orderName && st.Rescans != want {
			t.Errorf("order %d: %d rescans, want %d", o, st.Rescans, want)
		}
		if st.Rescans > 1 {
			t.Errorf("order %d: %d rescans, want at most 1 (the second read saw no change)", o, st.Rescans)
		}
		if st.FullScans != 1 {
			t.Errorf("order %d: %d full scans, want 1", o, st.FullScans)
		}
	}
}

// TestDirectoryMissAfterIncrementalScansFully: a user inserted and another
// removed before the anchor leave the tail check passing; the miss that
// survives the incremental refresh causes a full scan, at most once per
// MissFullScanEvery.
func TestDirectoryMissAfterIncrementalScansFully(t *testing.T) {
	t.Parallel()
	list := newUserList(1000)
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, MissFullScanEvery: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	list.mu.Lock()
	u := list.addLocked()
	list.users = list.users[:len(list.users)-1]        // take it off the end…
	list.users = slices.Insert(list.users[1:], 500, u) // …put it in the middle, the first user gone
	list.mu.Unlock()
	now = now.Add(2 * time.Minute)
	if _, err := d.Lookup(ctx, u.ExternalID); err != nil {
		t.Fatalf("lookup of a user inserted in the middle: %v", err)
	}
	if st := d.Stats(); st.FullScans != 2 {
		t.Errorf("%d full scans, want 2 (the miss after the incremental refresh scans fully)", st.FullScans)
	}
	// A user that is not listed at all costs one incremental refresh per
	// MinRefresh and no full scan within MissFullScanEvery.
	full := d.Stats().FullScans
	for range 10 {
		now = now.Add(2 * time.Second)
		if _, err := d.Lookup(ctx, fmt.Sprintf("%032x", 999999)); !errors.Is(err, ErrNotInDirectory) {
			t.Fatalf("lookup of an unknown id: %v", err)
		}
	}
	if got := d.Stats().FullScans - full; got != 0 {
		t.Errorf("%d full scans within MissFullScanEvery, want 0", got)
	}
}

// TestDirectoryNameOrderedJoinersCost: on the name-ordered list, 1,000
// joiners among 20,000 users, each visible 2 s after its event (events
// spread over 2 s), looked up at their event and retried with the queue's
// backoff (1 s doubling) until found: at most 3 × ceil(21,000/250) + 20
// list calls, and every joiner found.
func TestDirectoryNameOrderedJoinersCost(t *testing.T) {
	t.Parallel()
	const users, joiners = 20000, 1000
	list := newOrderedList(users, orderName)
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{Now: func() time.Time { return now }})
	ctx := context.Background()
	type joiner struct {
		id       string
		event    time.Time
		visible  time.Time
		due      time.Time
		backoff  time.Duration
		added    bool
		found    bool
		attempts int
	}
	js := make([]*joiner, joiners)
	start := now
	for i := range js {
		ev := start.Add(time.Duration(i) * 2 * time.Second / joiners)
		js[i] = &joiner{event: ev, visible: ev.Add(2 * time.Second), due: ev, backoff: time.Second}
	}
	const tick = 100 * time.Millisecond
	for step := 0; step < 20000; step++ {
		now = start.Add(time.Duration(step) * tick)
		for _, j := range js {
			if !j.added && !now.Before(j.visible) {
				j.id, j.added = list.add().ExternalID, true
			}
		}
		var batch []*joiner
		left := 0
		for _, j := range js {
			if j.found {
				continue
			}
			left++
			if !now.Before(j.due) {
				batch = append(batch, j)
			}
		}
		if left == 0 {
			break
		}
		for chunk := range slices.Chunk(batch, 100) {
			ids := make([]string, len(chunk))
			for i, j := range chunk {
				ids[i] = j.id
				if !j.added {
					ids[i] = fmt.Sprintf("%032x", 1<<40+i) // not listed yet
				}
			}
			found, err := d.LookupMany(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range chunk {
				j.attempts++
				if _, ok := found[ids[i]]; ok && j.added {
					j.found = true
					continue
				}
				j.due = now.Add(j.backoff)
				j.backoff *= 2
			}
		}
	}
	for _, j := range js {
		if !j.found {
			t.Fatalf("joiner %s (event %s) never found", j.id, j.event.Sub(start))
		}
	}
	limit := int32(3*((users+joiners+249)/250) + 20)
	got := list.calls.Load()
	t.Logf("name-ordered list: %d list calls for %d joiners among %d users (limit %d); %+v", got, joiners, users, limit, d.Stats())
	if got > limit {
		t.Errorf("%d list calls, want at most %d", got, limit)
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
	if got := list.calls.Load(); got != 9 {
		t.Errorf("50 concurrent misses cost %d list calls, want 9 (one scan)", got)
	}
}

func TestDirectoryRegisteredAndOddIDs(t *testing.T) {
	t.Parallel()
	list := &userList{}
	list.users = []CCUser{
		{ID: "17", ExternalID: "2c91808568c529c60168cca6f90c1313", Status: "ACTIVE", Email: "a@example.com"},
		{ID: "abc", ExternalID: "2c91808568c529c60168cca6f90c1314", Status: "UNREGISTERED", Email: " B@example.com "},
		{ID: "18", ExternalID: "not-hex-id", Status: "UNREGISTERED", Email: "c@example.com"},
		{ID: "22", ExternalID: "2c91808568c529c60168cca6f90c1318", Status: "UNREGISTERED", Email: "d@example.com"},
		{ID: "23", ExternalID: "2c91808568c529c60168cca6f90c1319", Status: "UNREGISTERED"},
		{ID: "19", ExternalID: "2c91808568c529c60168cca6f90c1315", Status: "LOCKED"},
		{ID: "20", ExternalID: "2c91808568c529c60168cca6f90c1316", Status: "DISABLED"},
		{ID: "21", ExternalID: "2c91808568c529c60168cca6f90c1317", Status: "PENDING"},
	}
	d := NewDirectory(list, DirectoryOptions{})
	want := map[string]DirectoryEntry{
		"2c91808568c529c60168cca6f90c1313": {CCID: "17", Registered: true, Status: "ACTIVE"},
		"2c91808568c529c60168cca6f90c1314": {CCID: "abc", Status: "UNREGISTERED", Email: "B@example.com"},
		"not-hex-id":                       {CCID: "18", Status: "UNREGISTERED", Email: "c@example.com"},
		"2c91808568c529c60168cca6f90c1318": {CCID: "22", Status: "UNREGISTERED", Email: "d@example.com"},
		"2c91808568c529c60168cca6f90c1319": {CCID: "23", Status: "UNREGISTERED"},
		"2c91808568c529c60168cca6f90c1315": {CCID: "19", Registered: true, Status: "LOCKED"},
		"2c91808568c529c60168cca6f90c1316": {CCID: "20", Status: "DISABLED"},
		"2c91808568c529c60168cca6f90c1317": {CCID: "21", Status: "PENDING"},
	}
	for id, w := range want {
		got, err := d.Lookup(context.Background(), id)
		if err != nil || got != w {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", id, got, err, w)
		}
	}
	if c := want["2c91808568c529c60168cca6f90c1316"].Class(); c != inviter.StatusUnknown {
		t.Errorf("DISABLED entry class %s, want unknown", c)
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

// TestDirectoryPassingStatusIsReadAgain: a user listed PENDING and later
// UNREGISTERED is seen UNREGISTERED once a full scan is due for misses;
// until then the PENDING entry is returned.
func TestDirectoryPassingStatusIsReadAgain(t *testing.T) {
	t.Parallel()
	list := newUserList(500)
	list.mu.Lock()
	list.users[7].Status = "PENDING"
	id := list.users[7].ExternalID
	list.mu.Unlock()
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, MissFullScanEvery: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	if e, err := d.Lookup(ctx, id); err != nil || e.Status != "PENDING" || e.Class() != inviter.StatusUnknown {
		t.Fatalf("first lookup: %+v %v, want PENDING", e, err)
	}
	list.mu.Lock()
	list.users[7].Status = "UNREGISTERED"
	list.mu.Unlock()
	now = now.Add(2 * time.Second)
	if e, err := d.Lookup(ctx, id); err != nil || e.Status != "PENDING" {
		t.Fatalf("lookup within MissFullScanEvery: %+v %v, want the PENDING entry", e, err)
	}
	now = now.Add(time.Minute)
	if e, err := d.Lookup(ctx, id); err != nil || e.Status != "UNREGISTERED" || e.Class() != inviter.StatusInvitable {
		t.Fatalf("lookup after MissFullScanEvery: %+v %v, want UNREGISTERED", e, err)
	}
	if st := d.Stats(); st.FullScans != 2 {
		t.Errorf("%d full scans, want 2", st.FullScans)
	}
}

// TestDirectoryChurnFoundByThisScanOrTheNext: users removed and added
// anywhere while every page is read, in each order. Every user listed
// before a scan began and still listed after the next scan is in the
// index of one of the two.
func TestDirectoryChurnFoundByThisScanOrTheNext(t *testing.T) {
	t.Parallel()
	for _, o := range []listOrder{orderCreated, orderName, orderNewest} {
		for seed := range uint64(5) {
			list := newOrderedList(3000, o)
			rng := rand.New(rand.NewPCG(seed, 7))
			list.onCall = func(l *userList, start int) {
				for range rng.IntN(3) {
					if len(l.users) > 0 {
						k := rng.IntN(len(l.users))
						l.users = slices.Delete(l.users, k, k+1)
					}
				}
				for range rng.IntN(3) {
					l.addLocked()
				}
			}
			snapshot := func() map[string]bool {
				list.mu.Lock()
				defer list.mu.Unlock()
				m := make(map[string]bool, len(list.users))
				for _, u := range list.users {
					m[u.ExternalID] = true
				}
				return m
			}
			d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Hour})
			ctx := context.Background()
			before := snapshot()
			if err := d.fullScan(ctx); err != nil {
				t.Fatal(err)
			}
			first := map[string]bool{}
			for id := range before {
				if _, ok := d.get(id); ok {
					first[id] = true
				}
			}
			if err := d.fullScan(ctx); err != nil {
				t.Fatal(err)
			}
			after := snapshot()
			missed := 0
			for id := range before {
				if !after[id] || first[id] {
					continue
				}
				if _, ok := d.get(id); !ok {
					missed++
				}
			}
			if missed > 0 {
				t.Errorf("order %d seed %d: %d users listed throughout found by neither scan (%+v)", o, seed, missed, d.Stats())
			}
		}
	}
}

// TestDirectoryEntryWithoutEmailIsReadAgain: an unregistered user listed
// without an email address (which the /cc path does not send) is read
// again like a miss, so an address set since is seen once a full scan is
// due for misses.
func TestDirectoryEntryWithoutEmailIsReadAgain(t *testing.T) {
	t.Parallel()
	list := newUserList(500)
	list.mu.Lock()
	list.users[8].Email = ""
	id := list.users[8].ExternalID
	list.mu.Unlock()
	now := time.Unix(0, 0)
	d := NewDirectory(list, DirectoryOptions{MinRefresh: time.Second, MissFullScanEvery: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	if e, err := d.Lookup(ctx, id); err != nil || e.Email != "" || e.Class() != inviter.StatusInvitable {
		t.Fatalf("first lookup: %+v %v, want an invitable entry without an address", e, err)
	}
	list.mu.Lock()
	list.users[8].Email = "set.later@example.com"
	list.mu.Unlock()
	now = now.Add(time.Minute + time.Second)
	if e, err := d.Lookup(ctx, id); err != nil || e.Email != "set.later@example.com" {
		t.Fatalf("lookup after MissFullScanEvery: %+v %v, want the address set since", e, err)
	}
}
