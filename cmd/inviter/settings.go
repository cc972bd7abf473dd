package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/web"
)

// envAnnotation names the environment variable a flag falls back to.
const envAnnotation = "inviter_env"

// bindEnv declares that flag name of fs is also read from env, and then
// from the older names of that variable, which still work but are not
// shown.
func bindEnv(fs *pflag.FlagSet, name, env string, old ...string) {
	f := fs.Lookup(name)
	f.Usage += " (env " + env + ")"
	_ = fs.SetAnnotation(name, envAnnotation, append([]string{env}, old...))
}

// flagAliases maps the old name of a flag to its name now: the same idea
// has one name in every command, and the old names still work, unshown.
var flagAliases = map[string]string{
	"not-found-window": "visibility-delay",
	"late-visibility":  "visibility-delay",
	"backfill-since":   "created-after",
}

// normalizeFlag is the pflag normalisation that applies flagAliases.
func normalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if n, ok := flagAliases[name]; ok {
		return pflag.NormalizedName(n)
	}
	return pflag.NormalizedName(name)
}

// applyEnv sets every flag of cmd that was not given on the command line
// from its environment variable, when that is set. Flags win over the
// environment. A malformed value is an error naming the variable (and
// never showing a secret's value).
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	apply := func(f *pflag.Flag) {
		envs := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(envs) == 0 {
			return
		}
		for _, env := range envs {
			v := getenv(env)
			if v == "" {
				continue
			}
			if e := f.Value.Set(v); e != nil {
				err = usagef("%s: %v", env, e)
			}
			return
		}
	}
	cmd.Flags().VisitAll(apply)
	cmd.InheritedFlags().VisitAll(apply)
	return err
}

// tenantSettings are the settings of every command that talks to ISC.
type tenantSettings struct {
	baseURL      string
	clientID     string
	clientSecret string
	rate         rateFlag
	timeout      time.Duration
	apiVersion   string
	maxRetry     time.Duration
	debug        bool
	log          logSettings
}

func (t *tenantSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.baseURL, "base-url", "", "ISC API base URL, e.g. https://acme.api.identitynow.com")
	bindEnv(fs, "base-url", "SAIL_BASE_URL")
	fs.StringVar(&t.clientID, "client-id", "", "ISC client id (a personal access token of an ORG_ADMIN or HELPDESK user)")
	bindEnv(fs, "client-id", "SAIL_CLIENT_ID")
	fs.StringVar(&t.clientSecret, "client-secret", "", "ISC client secret; prefer the environment variable")
	bindEnv(fs, "client-secret", "SAIL_CLIENT_SECRET")
	t.rate = rateFlag{n: 100, per: 10 * time.Second}
	fs.Var(&t.rate, "rate-limit", "requests per window allowed per ISC API version, as N/DURATION")
	bindEnv(fs, "rate-limit", "INVITER_RATE_LIMIT")
	fs.DurationVar(&t.timeout, "timeout", 30*time.Second, "timeout of one ISC request")
	bindEnv(fs, "timeout", "INVITER_TIMEOUT")
	fs.StringVar(&t.apiVersion, "api-version", string(isc.DefaultAPIVersion), "ISC API version family of the identity and task calls: beta (invite and task status on /beta, identity reads on /v2025), v2025 or v1")
	bindEnv(fs, "api-version", "INVITER_API_VERSION")
	fs.DurationVar(&t.maxRetry, "max-retry-after", 10*time.Minute, "longest wait a 429's Retry-After is honoured for")
	bindEnv(fs, "max-retry-after", "INVITER_MAX_RETRY_AFTER")
	fs.BoolVar(&t.debug, "debug", false, "log every ISC call (never secrets or tokens), and River's own messages")
	bindEnv(fs, "debug", "INVITER_DEBUG")
	t.log.register(fs)
}

// logger returns the command's logger, as --log-format, --log-level and
// --debug say, and River's logger (WARN and above unless --debug).
func (t *tenantSettings) logger(w io.Writer) (app, river *slog.Logger) {
	return t.log.loggers(w, t.debug)
}

// logCalls makes cfg log every ISC call at DEBUG when --debug is set,
// keeping what cfg.OnCall already does.
func (t *tenantSettings) logCalls(cfg *isc.Config, logger *slog.Logger) {
	if !t.debug {
		return
	}
	next := cfg.OnCall
	cfg.OnCall = func(endpoint string, status int) {
		logger.Debug("isc call", "endpoint", endpoint, "status", status)
		if next != nil {
			next(endpoint, status)
		}
	}
}

// clientConfig returns the isc.Config of these settings, validated.
func (t *tenantSettings) clientConfig(logger *slog.Logger, retries int) (isc.Config, error) {
	cfg := isc.Config{
		BaseURL:      t.baseURL,
		ClientID:     t.clientID,
		ClientSecret: t.clientSecret,
		UserAgent:    "inviter/" + version,
		RateLimit:    t.rate.n,
		RateWindow:   t.rate.per,
		Timeout:      t.timeout,
		Retries:      retries,
		Logger:       logger,
	}
	cfg.APIVersion, cfg.MaxRetryAfter = isc.APIVersion(t.apiVersion), t.maxRetry
	if err := t.log.validate(); err != nil {
		return cfg, err
	}
	if t.maxRetry < 0 {
		return cfg, usagef("--max-retry-after (INVITER_MAX_RETRY_AFTER) must not be negative")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{errors.New(redact.Userinfo(err.Error()))}
	}
	return cfg, nil
}

// rateFlag is a rate written N/DURATION, such as 100/10s.
type rateFlag struct {
	n   int
	per time.Duration
}

func (r *rateFlag) String() string {
	if r.per == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%s", r.n, r.per)
}

func (r *rateFlag) Set(s string) error {
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		per = "1s"
	}
	v, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || v <= 0 {
		return fmt.Errorf("rate %q: want N/DURATION such as 100/10s", s)
	}
	if per != "" && per[0] >= '0' && per[0] <= '9' {
		// already a duration such as 10s
	} else {
		per = "1" + per // "100/s" means per second
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return fmt.Errorf("rate %q: want N/DURATION such as 100/10s", s)
	}
	r.n, r.per = v, d
	return nil
}

func (r *rateFlag) Type() string { return "rate" }

// apiFlag is an --api value.
type apiFlag struct{ api inviter.API }

func (a *apiFlag) String() string { return string(a.api) }
func (a *apiFlag) Set(s string) error {
	api, err := inviter.ParseAPI(s)
	if err != nil {
		return err
	}
	a.api = api
	return nil
}
func (a *apiFlag) Type() string { return "public|cc" }

// newLogger logs text records to w, at debug level when debug is set,
// with the user information of URLs redacted.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	l := logSettings{format: "text", level: "info"}
	app, _ := l.loggers(w, debug)
	return app
}

// registerWebhookAuth declares the settings of the webhook's
// authentication, the same for serve (which checks them) and subscribe
// (which gives them to ISC); insecureUsage says what --insecure-no-auth
// does for the command.
func registerWebhookAuth(fs *pflag.FlagSet, auth *web.Auth, insecureUsage string) {
	fs.StringVar(&auth.BearerToken, "webhook-token", "", "bearer token ISC sends with each event; prefer the environment variable")
	bindEnv(fs, "webhook-token", "INVITER_WEBHOOK_TOKEN")
	fs.StringVar(&auth.BasicUser, "webhook-user", "", "user name ISC sends with each event (basic auth)")
	bindEnv(fs, "webhook-user", "INVITER_WEBHOOK_USER")
	fs.StringVar(&auth.BasicPassword, "webhook-password", "", "password ISC sends with each event (basic auth); prefer the environment variable")
	bindEnv(fs, "webhook-password", "INVITER_WEBHOOK_PASSWORD")
	fs.BoolVar(&auth.Insecure, "insecure-no-auth", false, insecureUsage)
}
