package isc

import (
	"fmt"
	"testing"
	"time"
)

// TestAddressBookIsBounded: the memory of addresses keeps at most max
// addresses and forgets sightings past their time, however often the same
// addresses are seen.
func TestAddressBookIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	b := newAddressBook(time.Hour, 100, func() time.Time { return now })
	for i := range 1000 {
		first := map[string]mailCandidate{}
		cands := map[string]mailCandidate{}
		for k := range 10 {
			c := mailCandidate{id: fmt.Sprintf("id%d-%d", i, k), addr: fmt.Sprintf("a%d@example.com", (i*10+k)%150), created: now}
			first[addressKey(c.addr)], cands[c.id] = c, c
		}
		b.merge(first, cands, createdBefore)
		now = now.Add(time.Second)
	}
	if len(b.byKey) > 100 || len(b.sights) > 200+10 || len(b.keyOf) > len(b.byKey) {
		t.Errorf("%d addresses, %d sightings, %d ids remembered; want at most 100, 210, and no more ids than addresses", len(b.byKey), len(b.sights), len(b.keyOf))
	}
	now = now.Add(2 * time.Hour)
	b.merge(map[string]mailCandidate{}, nil, createdBefore)
	if len(b.byKey) != 0 || len(b.sights) != 0 || len(b.keyOf) != 0 {
		t.Errorf("after the time: %d addresses, %d sightings, %d ids; want none", len(b.byKey), len(b.sights), len(b.keyOf))
	}
}
