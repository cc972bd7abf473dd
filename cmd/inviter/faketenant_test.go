package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/inviter/inviter/isctest"
)

func TestFakeTenantFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string // a usage error mentioning this flag; "" for none
		check   func(isctest.Options, isctest.Faults) bool
	}{
		{[]string{"--cc-order", "name"}, "", func(o isctest.Options, _ isctest.Faults) bool { return o.CCOrder == isctest.CCOrderName }},
		{[]string{"--cc-order", "newest"}, "", func(o isctest.Options, _ isctest.Faults) bool { return o.CCOrder == isctest.CCOrderNewestFirst }},
		{[]string{"--unknown-ids", "skip", "--async-tasks", "--task-delay", "3s"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return o.UnknownIDs == isctest.UnknownIDsSkip && o.AsyncTasks && o.TaskDelay.Seconds() == 3
		}},
		{[]string{"--statuses", "LOCKED,PENDING", "--shared-email", "3"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return slices.Equal(o.StatusMix, []string{"LOCKED", "PENDING"}) && o.SharedEmailUsers == 3
		}},
		{[]string{"--scopes", "idn:identity:read", "--cc-removed", "410", "--max-uri-length", "8192", "--deprecated", "beta"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return slices.Equal(o.Scopes, []string{"idn:identity:read"}) && o.CCRemoved == 410 && o.MaxURILength == 8192 && slices.Equal(o.DeprecatedVersions, []string{"beta"})
		}},
		{[]string{"--redirect", "308", "--redirect-to", "http://x.test/", "--fault-endpoints", "POST /oauth/token"}, "", func(_ isctest.Options, f isctest.Faults) bool {
			return f.RedirectRate == 1 && f.RedirectStatus == 308 && f.RedirectTo == "http://x.test/" && slices.Equal(f.Endpoints, []string{"POST /oauth/token"})
		}},
		{[]string{"--bad-body", "json", "--retry-after", "86400", "--refuse-credentials", "--unauthorized-rate", "1", "--big-body", "100"}, "", func(_ isctest.Options, f isctest.Faults) bool {
			return f.BadBody == "json" && f.RetryAfter == 86400 && f.RefuseCredentials && f.UnauthorizedRate == 1 && f.BigBody == 100
		}},
		{[]string{"--cc-order", "random"}, "--cc-order", nil},
		{[]string{"--unknown-ids", "drop"}, "--unknown-ids", nil},
		{[]string{"--statuses", "ASLEEP"}, "--statuses", nil},
		{[]string{"--cc-removed", "500"}, "--cc-removed", nil},
		{[]string{"--redirect", "200"}, "--redirect", nil},
		{[]string{"--redirect-to", "http://x.test/"}, "--redirect-to", nil},
		{[]string{"--bad-body", "xml"}, "--bad-body", nil},
		{[]string{"--too-many-rate", "2"}, "--too-many-rate", nil},
	}
	for _, tt := range tests {
		o := &fakeTenantOptions{rate: rateFlag{n: 100}}
		cmd := fakeTenantCommand(o, nil, nil)
		if err := cmd.Flags().Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		opts, faults, err := o.tenantOptions()
		if tt.wantErr != "" {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("%v: error %v, want a usage error naming %s", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(opts, faults) {
			t.Fatalf("%v: options %+v, faults %+v, error %v", tt.args, opts, faults, err)
		}
	}
}
