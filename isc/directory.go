package isc

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inviter/inviter"
)

// ErrNotInDirectory is returned by Directory lookups for an identity the
// /cc user list does not show (yet).
var ErrNotInDirectory = errors.New("identity not in the /cc user list")

// CCLister is the part of Client a Directory uses: one page of
// GET /cc/api/user/list. Implementations must be safe for concurrent use.
type CCLister interface {
	ListCCUsers(ctx context.Context, start, limit int) (CCUserPage, error)
}

// DirectoryEntry is what a Directory knows of one user.
type DirectoryEntry struct {
	CCID       string // cc short id
	Registered bool   // the list's status is a registered one (inviter.ClassifyStatus)
	Status     string // the list's status, e.g. UNREGISTERED, ACTIVE
	// Email is the list's email address, trimmed, for an entry whose
	// status is invited (StatusInvitable); empty when the list shows none.
	// It is not kept for other entries: the /cc invite path needs it only
	// for identities it sends.
	Email string
}

// Class classifies the entry's status (see inviter.ClassifyStatus).
func (e DirectoryEntry) Class() inviter.StatusClass {
	c, _ := inviter.ClassifyStatus(e.Status)
	return c
}

// Directory maps identity ids (the trigger's id, the list's externalId) to
// cc short ids for the legacy invite path. It builds an in-memory index
// from paged scans of /cc/api/user/list and looks up in memory; a miss
// refreshes the index at most once per MinRefresh, and concurrent misses
// share one refresh.
//
// Inferred: SailPoint does not document the order of /cc/api/user/list,
// so a Directory assumes none (creation order, by name, newest first, or
// any other):
//
//   - A full scan reads overlapping pages: each page starts at the last
//     record of the one before. When that record is no longer there, the
//     list shifted under the scan: records before the cursor were removed,
//     so records may have slid behind it unseen. The scan then reads the
//     list again (at most MaxRescans times), merging what it sees, so an
//     identity listed before the scan began is found by it or the next.
//     When the record moved later (users inserted before the cursor), or
//     the total changed, the new users may have been missed: the next
//     refresh is a full scan.
//   - A refresh is incremental when the list only grew at one end: the
//     last record read is still at its offset (appended users), or the
//     first one moved down by exactly the growth (users put in front).
//     Otherwise it is a full scan.
//   - A miss that is still a miss after an incremental refresh leads to a
//     full scan, at most once per MissFullScanEvery.
//
// The index stores 32-hex-digit identity ids as 16 bytes, numeric short
// ids as integers and the status as a small number; other ids go to a
// string map. Email addresses are kept only for users in a status that is
// invited, in a map of their own. At 1,000,000 users, two thirds of them
// unregistered with an address, that is about 98 bytes a user
// (BenchmarkDirectoryMemory). A Directory is safe for concurrent use.
type Directory struct {
	list       CCLister
	minRefresh time.Duration
	fullEvery  time.Duration
	missFull   time.Duration
	maxRescans int
	now        func() time.Time

	mu       sync.RWMutex
	compact  map[[16]byte]packedEntry
	emails   map[[16]byte]string // email of invitable compact entries that have one
	other    map[string]DirectoryEntry
	statuses []string // status names by packedEntry.status; append-only
	scanned  int      // the list's length at the end of the last scan
	headExt  string   // externalId of the record at offset 0
	tailExt  string   // externalId of the record at offset scanned-1
	dirty    bool     // the last scan saw the list change: the next refresh is full
	lastScan time.Time
	lastFull time.Time
	refresh  *refreshCall // in flight, or nil

	listCalls int
	fullScans int
	rescans   int
}

type packedEntry struct {
	cc     uint32
	status uint8 // index into Directory.statuses
}

type refreshCall struct {
	done chan struct{}
	err  error
}

// DirectoryOptions configures a Directory.
type DirectoryOptions struct {
	// MinRefresh is the least time between two refreshes triggered by
	// misses; default 5 s.
	MinRefresh time.Duration
	// FullScanEvery forces a full scan when the last one is older, so that
	// status changes and removals are seen; default 1 h.
	FullScanEvery time.Duration
	// MissFullScanEvery is the least time between two full scans caused by
	// ids still missing after an incremental refresh; default 1 min.
	MissFullScanEvery time.Duration
	// MaxRescans bounds how often one full scan reads the list again after
	// it shifted under it; default 2.
	MaxRescans int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewDirectory returns an empty Directory over list. The first lookup scans.
func NewDirectory(list CCLister, o DirectoryOptions) *Directory {
	if o.MinRefresh == 0 {
		o.MinRefresh = 5 * time.Second
	}
	if o.FullScanEvery == 0 {
		o.FullScanEvery = time.Hour
	}
	if o.MissFullScanEvery == 0 {
		o.MissFullScanEvery = time.Minute
	}
	if o.MaxRescans == 0 {
		o.MaxRescans = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Directory{
		list: list, minRefresh: o.MinRefresh, fullEvery: o.FullScanEvery, missFull: o.MissFullScanEvery,
		maxRescans: max(o.MaxRescans, 0), now: o.Now,
		compact: make(map[[16]byte]packedEntry), emails: make(map[[16]byte]string), other: make(map[string]DirectoryEntry),
	}
}

// Len returns the number of users in the index.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.compact) + len(d.other)
}

// ListCalls returns how many list pages the Directory has fetched.
func (d *Directory) ListCalls() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.listCalls
}

// DirectoryStats counts a Directory's work.
type DirectoryStats struct {
	ListCalls int // list pages fetched
	FullScans int // full scans (each may read the list more than once)
	Rescans   int // extra reads of the list by full scans it shifted under
}

// Stats returns the Directory's counters.
func (d *Directory) Stats() DirectoryStats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return DirectoryStats{ListCalls: d.listCalls, FullScans: d.fullScans, Rescans: d.rescans}
}

// Lookup returns the entry of one identity, refreshing the index when it
// misses (at most once per MinRefresh). It returns ErrNotInDirectory when
// the identity is not listed, or the list call's error.
func (d *Directory) Lookup(ctx context.Context, identityID string) (DirectoryEntry, error) {
	found, err := d.LookupMany(ctx, []string{identityID})
	if err != nil {
		return DirectoryEntry{}, err
	}
	e, ok := found[identityID]
	if !ok {
		return DirectoryEntry{}, ErrNotInDirectory
	}
	return e, nil
}

// LookupMany returns the entries of the identities it finds; absent ids are
// not in the list. One refresh serves all misses; ids still missing after
// an incremental refresh cause a full scan, at most once per
// MissFullScanEvery.
//
// An entry whose status the status table does not invite (PENDING,
// ERROR, …) counts as a miss for refreshing: such a status may be passing
// (a tenant may list a new joiner PENDING first and UNREGISTERED later),
// so the entry is read again, within the same bounds, and the freshest
// one returned. So is an invitable entry without an email address, which
// the /cc path does not send: the address may have been set since.
func (d *Directory) LookupMany(ctx context.Context, ids []string) (map[string]DirectoryEntry, error) {
	found := make(map[string]DirectoryEntry, len(ids))
	missing := d.collect(ids, found)
	if len(missing) == 0 {
		return found, nil
	}
	if err := d.maybeRefresh(ctx, false); err != nil {
		return found, err
	}
	missing = d.collect(missing, found)
	if len(missing) == 0 {
		return found, nil
	}
	d.mu.RLock()
	due := d.now().Sub(d.lastFull) >= d.missFull
	d.mu.RUnlock()
	if due {
		if err := d.maybeRefresh(ctx, true); err != nil {
			return found, err
		}
		d.collect(missing, found)
	}
	return found, nil
}

// collect adds the entries it knows to found and returns the ids it does
// not, those whose status the status table does not invite, and invitable
// ones without an email address.
func (d *Directory) collect(ids []string, found map[string]DirectoryEntry) []string {
	var missing []string
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, id := range ids {
		e, ok := d.get(id)
		if ok {
			found[id] = e
		}
		if !ok || e.Class() == inviter.StatusUnknown || e.Class() == inviter.StatusInvitable && e.Email == "" {
			missing = append(missing, id)
		}
	}
	return missing
}

func (d *Directory) get(id string) (DirectoryEntry, bool) {
	if k, ok := compactKey(id); ok {
		if p, ok := d.compact[k]; ok {
			e := d.entry(strconv.FormatUint(uint64(p.cc), 10), d.statuses[p.status])
			e.Email = d.emails[k]
			return e, true
		}
	}
	e, ok := d.other[id]
	return e, ok
}

func (d *Directory) entry(cc, status string) DirectoryEntry {
	c, _ := inviter.ClassifyStatus(status)
	return DirectoryEntry{CCID: cc, Registered: c == inviter.StatusRegistered, Status: status}
}

// index is the lookup table of a Directory.
type index struct {
	compact map[[16]byte]packedEntry
	emails  map[[16]byte]string
	other   map[string]DirectoryEntry
}

// put stores one user. d.mu must be held for writing (it interns the
// status).
func (d *Directory) put(x index, u CCUser) {
	var email string
	if c, _ := inviter.ClassifyStatus(u.Status); c == inviter.StatusInvitable {
		email = strings.TrimSpace(u.Email)
	}
	if k, ok := compactKey(u.ExternalID); ok {
		if n, err := strconv.ParseUint(u.ID, 10, 32); err == nil && strconv.FormatUint(n, 10) == u.ID {
			if st, ok := d.statusCode(u.Status); ok {
				x.compact[k] = packedEntry{cc: uint32(n), status: st}
				if email != "" {
					x.emails[k] = email
				} else {
					delete(x.emails, k)
				}
				delete(x.other, u.ExternalID)
				return
			}
		}
		delete(x.compact, k)
		delete(x.emails, k)
	}
	e := d.entry(u.ID, u.Status)
	e.Email = email
	x.other[u.ExternalID] = e
}

// statusCode interns status; false when 256 are interned already.
func (d *Directory) statusCode(status string) (uint8, bool) {
	for i, s := range d.statuses {
		if s == status {
			return uint8(i), true
		}
	}
	if len(d.statuses) > 255 {
		return 0, false
	}
	d.statuses = append(d.statuses, status)
	return uint8(len(d.statuses) - 1), true
}

// compactKey decodes a 32-digit lower-case hex id into 16 bytes.
func compactKey(id string) ([16]byte, bool) {
	var k [16]byte
	if len(id) != 32 {
		return k, false
	}
	for i := 0; i < 32; i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return k, false
		}
	}
	_, err := hex.Decode(k[:], []byte(id))
	return k, err == nil
}

// maybeRefresh joins a refresh in flight, or starts one: a full scan when
// full is set, otherwise a Refresh unless the last one ended less than
// MinRefresh ago.
func (d *Directory) maybeRefresh(ctx context.Context, full bool) error {
	d.mu.Lock()
	if rc := d.refresh; rc != nil {
		d.mu.Unlock()
		return wait(ctx, rc)
	}
	if !full && !d.lastScan.IsZero() && d.now().Sub(d.lastScan) < d.minRefresh {
		d.mu.Unlock()
		return nil
	}
	rc := &refreshCall{done: make(chan struct{})}
	d.refresh = rc
	d.mu.Unlock()

	// The refresh runs on its own so that one caller giving up does not
	// fail the others waiting for it; it ends with the first caller's ctx
	// only through its deadline-free values.
	go func() {
		rctx := context.WithoutCancel(ctx)
		if full {
			rc.err = d.fullScan(rctx)
		} else {
			rc.err = d.Refresh(rctx)
		}
		d.mu.Lock()
		d.refresh = nil
		d.mu.Unlock()
		close(rc.done)
	}()
	return wait(ctx, rc)
}

func wait(ctx context.Context, rc *refreshCall) error {
	select {
	case <-rc.done:
		return rc.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Refresh updates the index now: incrementally when the list only grew at
// one end, else with a full scan.
func (d *Directory) Refresh(ctx context.Context) error {
	d.mu.RLock()
	scanned, dirty, lastFull := d.scanned, d.dirty, d.lastFull
	d.mu.RUnlock()
	if scanned > 0 && !dirty && d.now().Sub(lastFull) < d.fullEvery {
		ok, err := d.incremental(ctx)
		if err != nil || ok {
			return err
		}
	}
	return d.fullScan(ctx)
}

// listPage fetches one page and counts it.
func (d *Directory) listPage(ctx context.Context, start int) (CCUserPage, error) {
	page, err := d.list.ListCCUsers(ctx, start, CCPageSize)
	d.mu.Lock()
	d.listCalls++
	d.mu.Unlock()
	return page, err
}

// incremental reads what was added at either end of the list since the
// last scan. It reports false, having changed nothing, when the list
// changed in any other way.
func (d *Directory) incremental(ctx context.Context) (bool, error) {
	d.mu.RLock()
	scanned, headExt, tailExt := d.scanned, d.headExt, d.tailExt
	d.mu.RUnlock()

	// Appended at the end: the last record read is still at its offset.
	tail, err := d.listPage(ctx, scanned-1)
	if err != nil {
		return false, err
	}
	if len(tail.Items) > 0 && tail.Items[0].ExternalID == tailExt && tail.Total >= scanned {
		if tail.Total == scanned {
			d.finishIncremental(nil, scanned, headExt, tailExt)
			return true, nil
		}
		r, err := d.read(ctx, scanned-1, tail, nil)
		if err != nil {
			return false, err
		}
		if r.changed || r.total != scanned+len(r.users) {
			return false, nil // more changed than the tail
		}
		d.finishIncremental(r.users, r.total, headExt, r.lastExt)
		return true, nil
	}

	// Put in front: the first record moved down by exactly the growth.
	head, err := d.listPage(ctx, 0)
	if err != nil {
		return false, err
	}
	grown := head.Total - scanned
	if grown <= 0 || grown >= len(head.Items) || head.Items[grown].ExternalID != headExt {
		return false, nil
	}
	d.finishIncremental(head.Items[:grown], head.Total, head.Items[0].ExternalID, tailExt)
	return true, nil
}

func (d *Directory) finishIncremental(users []CCUser, total int, headExt, tailExt string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x := index{compact: d.compact, emails: d.emails, other: d.other}
	for _, u := range users {
		d.put(x, u)
	}
	d.scanned, d.headExt, d.tailExt = total, headExt, tailExt
	d.lastScan = d.now()
}

// readResult is what one read of the list from an offset saw.
type readResult struct {
	users    []CCUser // new records, in list order (when collecting)
	total    int      // the last page's total
	firstExt string   // externalId of the first record read
	lastExt  string   // externalId of the last record read
	shifted  bool     // records before the cursor were removed: some may have been skipped
	changed  bool     // the list changed under the read (total, or a shift either way)
}

// read pages the list from offset start in overlapping pages, each
// starting at the last record of the one before, and passes every record
// once to put (or collects them when put is nil). first is the page at
// start, already fetched.
func (d *Directory) read(ctx context.Context, start int, first CCUserPage, put func(CCUser)) (readResult, error) {
	var r readResult
	page, offset, prevLast := first, start, ""
	if start > 0 && len(page.Items) > 0 {
		prevLast = page.Items[0].ExternalID // the anchor, already known
	}
	firstTotal := page.Total
	for calls := 0; ; calls++ {
		items := page.Items
		if page.Total != firstTotal {
			r.changed = true
		}
		if prevLast != "" {
			k := slices.IndexFunc(items, func(u CCUser) bool { return u.ExternalID == prevLast })
			switch {
			case k == 0:
			case k > 0:
				r.changed = true // inserted before the cursor
			default:
				r.changed, r.shifted = true, true
			}
			items = items[k+1:]
		}
		for _, u := range items {
			if r.firstExt == "" && offset == 0 {
				r.firstExt = u.ExternalID
			}
			if put != nil {
				put(u)
			} else {
				r.users = append(r.users, u)
			}
		}
		r.total = page.Total
		if n := len(page.Items); n > 0 {
			prevLast = page.Items[n-1].ExternalID
			r.lastExt = prevLast
		}
		n := len(page.Items)
		next := offset + n - 1
		end := n <= 1 && offset > 0 || n == 0
		switch {
		case n >= CCPageSize:
			// A full page never ends the read on its total alone: a
			// total that counts only the page looks the same.
		case page.Total > 0:
			end = end || next+1 >= page.Total // pages may hold fewer than 250
		default:
			end = true
		}
		// Inferred: total is the whole list's count and a page holds up
		// to 250; SailPoint documents neither, so neither decides alone.
		limit := 2*(max(firstTotal, next+1)/(CCPageSize-1)) + 10 // bounds a list that keeps shifting
		if end || calls >= limit {
			if calls >= limit {
				r.changed, r.shifted = true, true
			}
			return r, nil
		}
		offset = next
		var err error
		if page, err = d.listPage(ctx, offset); err != nil {
			return r, err
		}
	}
}

// fullScan reads the whole list into a new index and swaps it in at the
// end, so lookups keep working meanwhile. When the list shifted under a
// read it reads it again, up to MaxRescans times, into the same new index.
func (d *Directory) fullScan(ctx context.Context) error {
	began := d.now()
	d.mu.RLock()
	size := len(d.compact)
	d.mu.RUnlock()
	fresh := index{compact: make(map[[16]byte]packedEntry, size), emails: make(map[[16]byte]string), other: make(map[string]DirectoryEntry)}
	put := func(u CCUser) {
		d.mu.Lock()
		d.put(fresh, u)
		d.mu.Unlock()
	}
	var r readResult
	for pass := 0; ; pass++ {
		first, err := d.listPage(ctx, 0)
		if err != nil {
			return err
		}
		if r, err = d.read(ctx, 0, first, put); err != nil {
			return err
		}
		if !r.shifted || pass >= d.maxRescans {
			break
		}
		d.mu.Lock()
		d.rescans++
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.compact, d.emails, d.other = fresh.compact, fresh.emails, fresh.other
	d.fullScans++
	d.lastFull = began
	d.scanned, d.headExt, d.tailExt = r.total, r.firstExt, r.lastExt
	d.dirty = r.changed
	d.lastScan = d.now()
	return nil
}
