package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
)

// startupProbeTimeout bounds the token request serve makes at start.
const startupProbeTimeout = 15 * time.Second

// checkTenantAtStart gets a token before serve creates anything. ISC
// refusing the credentials, or redirecting (SAIL_BASE_URL naming the wrong
// host), is a bad setting: exit 2 with a message naming it. A tenant that
// does not answer is only a WARN: deliveries are stored and invited once it
// does, and the status page shows ISC as unhealthy meanwhile.
func checkTenantAtStart(ctx context.Context, cfg Config, health *iscHealth, logger *slog.Logger) error {
	timeout := min(cfg.ISC.Timeout, startupProbeTimeout)
	if timeout <= 0 {
		timeout = startupProbeTimeout
	}
	p := isc.ProbeToken(ctx, cfg.ISC, timeout)
	switch {
	case p.Refused:
		return settingErrorf("%v: check --client-id and --client-secret (SAIL_CLIENT_ID, SAIL_CLIENT_SECRET): a personal access token's client id and secret", p.Err)
	case p.Status >= 300 && p.Status < 400:
		return settingErrorf("--base-url (SAIL_BASE_URL): %v", p.Err)
	case p.Err != nil:
		health.fail(p.Err.Error())
		logger.Warn("ISC does not answer at start; serving anyway: deliveries are stored and invited once it answers", "error", p.Err)
		return nil
	}
	health.observe("POST /oauth/token", 200)
	if missing := isc.MissingScopes(p.Scopes, isc.RequiredFeatures(cfg.API)); len(missing) > 0 {
		logger.Error("the token lacks scopes inviter needs: invites will wait as a configuration problem until it has them (run inviter doctor)",
			"missing_scopes", strings.Join(missing, " "), "token_scopes", strings.Join(p.Scopes, " "))
	}
	logger.Info("ISC token obtained", "isc", redact.URL(cfg.ISC.BaseURL), "scopes", strings.Join(p.Scopes, " "))
	if cfg.API == inviter.APICC {
		return CheckCC(ctx, cfg.ISC, logger)
	}
	return nil
}

// CheckCC reads one entry of the /cc user list: a tenant whose /cc
// API is gone (404 or 410) cannot be served with --api cc, which is a bad
// setting (exit 2). Any other failure is left to the jobs.
func CheckCC(ctx context.Context, cfg isc.Config, logger *slog.Logger) error {
	probeCtx, cancel := context.WithTimeout(ctx, startupProbeTimeout)
	defer cancel()
	cfg.Retries = 0
	cfg.OnCall = nil
	c, err := isc.New(probeCtx, cfg)
	if err != nil {
		return &SettingError{err}
	}
	_, err = c.ListCCUsers(probeCtx, 0, 1)
	switch {
	case errors.Is(err, isc.ErrCCRemoved):
		return settingErrorf("--api cc (INVITER_API): %v", err)
	case err != nil:
		logger.Warn("the /cc API did not answer at start; serving anyway", "error", err)
	}
	return nil
}
