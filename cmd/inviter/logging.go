package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/inviter/inviter/internal/redact"
)

// logSettings are the logging flags of every command that talks to ISC.
type logSettings struct {
	format string // text or json
	level  string // debug, info, warn or error
}

func (l *logSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	bindEnv(fs, "log-format", "INVITER_LOG_FORMAT")
	fs.StringVar(&l.level, "log-level", "info", "least level logged: debug, info, warn or error (--debug implies debug)")
	bindEnv(fs, "log-level", "INVITER_LOG_LEVEL")
}

// validate checks the settings before anything is opened.
func (l *logSettings) validate() error {
	if l.format != "text" && l.format != "json" {
		return usagef("--log-format (INVITER_LOG_FORMAT) %q: want text or json", l.format)
	}
	if _, err := parseLevel(l.level); err != nil {
		return usagef("--log-level (INVITER_LOG_LEVEL) %q: want debug, info, warn or error", l.level)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var lv slog.Level
	err := lv.UnmarshalText([]byte(strings.ToUpper(strings.TrimSpace(s))))
	return lv, err
}

// loggers returns the application's logger and River's: River's own
// messages only at WARN and above unless debug is set.
func (l *logSettings) loggers(w io.Writer, debug bool) (app, river *slog.Logger) {
	lv, err := parseLevel(l.level)
	if err != nil {
		lv = slog.LevelInfo
	}
	if debug {
		lv = slog.LevelDebug
	}
	app = slog.New(l.handler(w, lv))
	river = app
	if !debug {
		river = slog.New(l.handler(w, max(lv, slog.LevelWarn))).With("component", "river")
		app = slog.New(quietRiver{app.Handler()})
	}
	return app, river
}

// quietRiver drops River's own records below WARN that reach the
// application's logger (its migrator logs through the store's logger).
type quietRiver struct{ slog.Handler }

func (h quietRiver) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && strings.HasPrefix(r.Message, "rivermigrate") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietRiver) WithAttrs(as []slog.Attr) slog.Handler {
	return quietRiver{h.Handler.WithAttrs(as)}
}

func (h quietRiver) WithGroup(name string) slog.Handler {
	return quietRiver{h.Handler.WithGroup(name)}
}

func (l *logSettings) handler(w io.Writer, lv slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if l.format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return redact.Handler{Handler: h}
}
