package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
)

// envAnnotation names the environment variable a flag falls back to.
const envAnnotation = "inviter_env"

// bindEnv declares that flag name of fs is also read from env.
func bindEnv(fs *pflag.FlagSet, name, env string) {
	f := fs.Lookup(name)
	f.Usage += " (env " + env + ")"
	_ = fs.SetAnnotation(name, envAnnotation, []string{env})
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
		v := getenv(envs[0])
		if v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usagef("%s: %v", envs[0], e)
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
	debug        bool
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
	fs.BoolVar(&t.debug, "debug", false, "log every ISC call (never secrets or tokens)")
	bindEnv(fs, "debug", "INVITER_DEBUG")
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
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err}
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

// newLogger logs text records to w, at debug level when debug is set.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// redactDSN hides the password of a postgres:// URL.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
