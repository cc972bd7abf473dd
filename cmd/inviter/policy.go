package main

import (
	"github.com/spf13/pflag"

	"github.com/inviter/inviter/policy"
)

// policySettings are the flags that choose whom to invite and when, shared
// by serve, reconcile and invite --unregistered.
type policySettings struct {
	rules      []string
	file       string
	startAttr  string
	daysBefore int
}

func (p *policySettings) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&p.rules, "policy", nil, `a rule identities must match to be invited, e.g. 'cloudLifecycleState in (active, prehire)'; repeat for several (all must hold); see docs/policy.md`)
	bindEnv(fs, "policy", "INVITER_POLICY")
	fs.StringVar(&p.file, "policy-file", "", "a file of rules and settings, one a line (docs/policy.md)")
	bindEnv(fs, "policy-file", "INVITER_POLICY_FILE")
	fs.StringVar(&p.startAttr, "start-date-attribute", "", "identity attribute holding the start date; identities starting later are invited --invite-days-before it")
	bindEnv(fs, "start-date-attribute", "INVITER_START_DATE_ATTRIBUTE")
	fs.IntVar(&p.daysBefore, "invite-days-before", 0, "with --start-date-attribute: days before the start date to invite (default 7, an invitation's lifetime)")
	bindEnv(fs, "invite-days-before", "INVITER_INVITE_DAYS_BEFORE")
}

// build returns the policy the settings describe; nil invites everyone now.
func (p *policySettings) build() (*policy.Policy, error) {
	var cfg policy.Config
	if p.file != "" {
		c, err := policy.Load(p.file)
		if err != nil {
			return nil, usagef("--policy-file (INVITER_POLICY_FILE): %v", err)
		}
		cfg = c
	}
	cfg.Rules = append(cfg.Rules, p.rules...)
	if p.startAttr != "" {
		cfg.StartDateAttribute = p.startAttr
	}
	if p.daysBefore != 0 {
		if cfg.StartDateAttribute == "" {
			return nil, usagef("--invite-days-before (INVITER_INVITE_DAYS_BEFORE) needs --start-date-attribute")
		}
		cfg.InviteDaysBefore = p.daysBefore
	}
	if len(cfg.Rules) == 0 && cfg.StartDateAttribute == "" {
		return nil, nil
	}
	pol, err := policy.New(cfg)
	if err != nil {
		return nil, usagef("--policy (INVITER_POLICY): %v", err)
	}
	return pol, nil
}
