package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/spf13/pflag"
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
	return redactingHandler{h}
}

// redactingHandler hides the user information (a password, say) of any
// URL-looking string attribute, whichever code logs it: SAIL_BASE_URL
// and postgres:// URLs are logged at start.
type redactingHandler struct{ slog.Handler }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redactUserinfo(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactingHandler{h.Handler.WithAttrs(red)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactUserinfo(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redactUserinfo(err.Error()))
		}
		if s, ok := v.Any().(fmt.Stringer); ok {
			return slog.String(a.Key, redactUserinfo(s.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactUserinfo replaces the user information of every URL in s
// ("scheme://user:password@host") with "xxxxx".
func redactUserinfo(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, "/?# \t\n\"'")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndex(s[:end], "@"); at >= 0 {
			b.WriteString("xxxxx@")
			s = s[at+1:]
		}
	}
}

// redactURL returns u without its user information, for messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return redactUserinfo(u)
	}
	p.User = nil
	return p.String()
}
