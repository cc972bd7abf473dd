package app

import (
	"context"
	"testing"

	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/policy"
)

func TestRecheckBeforeScheduledInvite(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(policy.Config{Rules: []string{"cloudLifecycleState in (active, prehire)"}})
	if err != nil {
		t.Fatal(err)
	}
	prehire := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "prehire"})
	withdrawn := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "inactive"})
	registered := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "prehire", Registered: true})
	check := recheck(c, p)
	for id, want := range map[string]bool{
		prehire.ID: true, withdrawn.ID: false, registered.ID: false, "2c9180000000000000000000000dead0": false,
	} {
		d, err := check(context.Background(), id)
		got, reason := d.Verdict == admission.Now, d.Reason
		if err != nil || got != want {
			t.Errorf("recheck(%s) = %v %q %v, want %v", id, got, reason, err, want)
		}
		if !got && reason == "" {
			t.Errorf("recheck(%s) gives no reason", id)
		}
	}
}
