package isctest

import (
	"net/http"
	"strings"
	"testing"
)

// TestSharedAddressesHaveDistinctCreatedTimes: identities made to share an
// address (Options.SharedEmailUsers, or a Count with an email on the admin
// endpoint) are created a millisecond apart in creation order, so the first
// of the address (the one ISC mails) is told by its created time as the
// API shows it.
func TestSharedAddressesHaveDistinctCreatedTimes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Users: 40, SharedEmailUsers: 3})
	resp, body := b.send(t, http.MethodPost, "/isctest/identities", "", strings.NewReader(`{"count":4,"email":"same@example.com"}`), "Content-Type", "application/json")
	wantStatus(t, resp, body, http.StatusCreated)
	for _, addr := range []string{sharedEmail, "same@example.com"} {
		var prev string
		n := 0
		for _, id := range b.srv.Identities() {
			if id.Email != addr {
				continue
			}
			n++
			at := isoTime(id.Created)
			if prev != "" && at <= prev {
				t.Errorf("%s: created %s after one created %s", addr, at, prev)
			}
			prev = at
		}
		if n < 3 {
			t.Errorf("%s: %d identities", addr, n)
		}
	}
}
