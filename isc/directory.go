package isc

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"
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
	Registered bool   // the list's status was not UNREGISTERED
}

// Directory maps identity ids (the trigger's id, the list's externalId) to
// cc short ids for the legacy invite path. It builds an in-memory index
// from one paged scan of /cc/api/user/list and looks up in memory; a miss
// refreshes the index at most once per MinRefresh, and concurrent misses
// share one refresh.
//
// A refresh reads only what was appended since the last scan when the list
// still starts the same way (it checks the last record it saw is still at
// its offset), and falls back to a full scan when it does not.
// Inferred: /cc/api/user/list keeps a stable order with new users at the
// end; SailPoint does not document its order, which is why the check exists.
//
// The index stores 32-hex-digit identity ids as 16 bytes and numeric short
// ids as integers (about 30 bytes a user); other ids go to a string map.
// A Directory is safe for concurrent use.
type Directory struct {
	list       CCLister
	minRefresh time.Duration
	fullEvery  time.Duration
	now        func() time.Time

	mu        sync.RWMutex
	compact   map[[16]byte]packedEntry
	other     map[string]DirectoryEntry
	scanned   int    // records read in list order
	lastExt   string // externalId of the record at offset scanned-1
	lastScan  time.Time
	lastFull  time.Time
	refresh   *refreshCall // in flight, or nil
	listCalls int
}

type packedEntry struct {
	cc         uint32
	registered bool
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
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Directory{
		list: list, minRefresh: o.MinRefresh, fullEvery: o.FullScanEvery, now: o.Now,
		compact: make(map[[16]byte]packedEntry), other: make(map[string]DirectoryEntry),
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
// not in the list. One refresh serves all misses.
func (d *Directory) LookupMany(ctx context.Context, ids []string) (map[string]DirectoryEntry, error) {
	found := make(map[string]DirectoryEntry, len(ids))
	missing := d.collect(ids, found)
	if len(missing) == 0 {
		return found, nil
	}
	if err := d.maybeRefresh(ctx); err != nil {
		return found, err
	}
	d.collect(missing, found)
	return found, nil
}

// collect adds the entries it knows to found and returns the ids it does not.
func (d *Directory) collect(ids []string, found map[string]DirectoryEntry) []string {
	var missing []string
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, id := range ids {
		if e, ok := d.get(id); ok {
			found[id] = e
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

func (d *Directory) get(id string) (DirectoryEntry, bool) {
	if k, ok := compactKey(id); ok {
		if p, ok := d.compact[k]; ok {
			return DirectoryEntry{CCID: strconv.FormatUint(uint64(p.cc), 10), Registered: p.registered}, true
		}
	}
	e, ok := d.other[id]
	return e, ok
}

// index is the lookup table of a Directory.
type index struct {
	compact map[[16]byte]packedEntry
	other   map[string]DirectoryEntry
}

// put stores one user.
func (x index) put(u CCUser) {
	e := DirectoryEntry{CCID: u.ID, Registered: u.Status != "UNREGISTERED"}
	if k, ok := compactKey(u.ExternalID); ok {
		if n, err := strconv.ParseUint(u.ID, 10, 32); err == nil && strconv.FormatUint(n, 10) == u.ID {
			x.compact[k] = packedEntry{cc: uint32(n), registered: e.Registered}
			delete(x.other, u.ExternalID)
			return
		}
		delete(x.compact, k)
	}
	x.other[u.ExternalID] = e
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

// maybeRefresh joins a refresh in flight, or starts one unless the last one
// ended less than MinRefresh ago.
func (d *Directory) maybeRefresh(ctx context.Context) error {
	d.mu.Lock()
	if rc := d.refresh; rc != nil {
		d.mu.Unlock()
		return wait(ctx, rc)
	}
	if !d.lastScan.IsZero() && d.now().Sub(d.lastScan) < d.minRefresh {
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
		rc.err = d.Refresh(context.WithoutCancel(ctx))
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

// Refresh updates the index now: incrementally when possible, else with a
// full scan.
func (d *Directory) Refresh(ctx context.Context) error {
	d.mu.RLock()
	scanned, lastExt, lastFull := d.scanned, d.lastExt, d.lastFull
	d.mu.RUnlock()
	if scanned > 0 && d.now().Sub(lastFull) < d.fullEvery {
		ok, err := d.scanFrom(ctx, scanned-1, lastExt)
		if err != nil || ok {
			return err
		}
	}
	_, err := d.scanFrom(ctx, 0, "")
	return err
}

// scanFrom pages the list from offset start. With anchor set, the first
// record must have that externalId; if it does not, nothing is changed and
// scanFrom reports false. A scan from 0 builds a new index and swaps it in
// at the end, so lookups keep working meanwhile.
func (d *Directory) scanFrom(ctx context.Context, start int, anchor string) (bool, error) {
	began := d.now()
	var users []CCUser // appended records, for an incremental scan
	var fresh index    // the new index, for a full scan
	if start == 0 {
		fresh = index{compact: make(map[[16]byte]packedEntry, d.Len()), other: make(map[string]DirectoryEntry)}
	}
	offset, lastExt := start, ""
	for {
		page, err := d.list.ListCCUsers(ctx, offset, CCPageSize)
		d.mu.Lock()
		d.listCalls++
		d.mu.Unlock()
		if err != nil {
			return false, err
		}
		if offset == start && anchor != "" {
			if len(page.Items) == 0 || page.Items[0].ExternalID != anchor || page.Total < start+1 {
				return false, nil
			}
		}
		for _, u := range page.Items {
			if start == 0 {
				fresh.put(u)
			} else {
				users = append(users, u)
			}
			lastExt = u.ExternalID
		}
		offset += len(page.Items)
		if len(page.Items) == 0 || offset >= page.Total {
			break
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if start == 0 {
		d.compact, d.other = fresh.compact, fresh.other
		d.lastFull = began
	} else {
		x := index{compact: d.compact, other: d.other}
		for _, u := range users {
			x.put(u)
		}
	}
	d.scanned = offset
	d.lastExt = lastExt
	if offset == start && start > 0 {
		d.lastExt = anchor // nothing new: the anchor is still the last record
	}
	d.lastScan = d.now()
	return true, nil
}
