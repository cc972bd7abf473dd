package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/metrics"
)

// Delivery outcomes, the values of the outcome label of
// inviter_deliveries_total.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeUnauthorized = "unauthorized"
	outcomeBadRequest   = "bad_request"
	outcomeTooLarge     = "too_large"
	outcomeUnsupported  = "unsupported_encoding"
	outcomeTest         = "test"
	outcomeError        = "error"
)

// intakeTimeout bounds the Intake call of one delivery. ISC gives up after
// 10 s, but a delivery read in full is stored even if the sender has gone
// (ISC never resends), so the call is not cut short when the request ends.
const intakeTimeout = 10 * time.Second

// handleIdentityCreated receives ISC's Identity Created event trigger
// (POST /hooks/identity-created); see handleEvent.
func handleIdentityCreated(logger *slog.Logger, auth authenticator, intake Intake, m *metrics.Metrics, maxBody int64, now func() time.Time) http.Handler {
	return handleEvent(logger, auth, m, maxBody, now, inviter.ParseIdentityCreated,
		func(ev inviter.IdentityCreated) string { return ev.Identity.ID },
		intake.AcceptIdentityCreated)
}

// handleIdentityAttributesChanged receives ISC's Identity Attributes
// Changed event trigger (POST /hooks/identity-attributes-changed); see
// handleEvent. duplicate from the intake means "not queued": the change did
// not make the identity eligible, or it was already queued or invited.
func handleIdentityAttributesChanged(logger *slog.Logger, auth authenticator, intake Intake, m *metrics.Metrics, maxBody int64, now func() time.Time) http.Handler {
	return handleEvent(logger, auth, m, maxBody, now, inviter.ParseIdentityAttributesChanged,
		func(ev inviter.IdentityAttributesChanged) string { return ev.Identity.ID },
		intake.AcceptIdentityAttributesChanged)
}

// handleEvent receives one kind of event trigger delivery. In order:
//
//   - authentication (bearer or Basic): 401 with WWW-Authenticate;
//   - a Content-Encoding other than gzip (or identity): 415;
//   - a body over maxBody bytes, before or after gzip decompression: 413;
//   - a body that is not valid gzip: 400;
//   - a body that is not a valid event (parse): 400 with the one-line
//     reason as text/plain;
//   - accept: 503 when it fails (nothing stored), else 200 with an empty
//     body, duplicates and test events (ISC's sample payload, counted with
//     the outcome "test") included.
//
// Every 4xx answer stores nothing and says why in its body. The payload
// given to accept is the body as decoded: decompressed, without a leading
// UTF-8 byte order mark.
//
// The Content-Type is not checked: ISC sends application/json, but any body
// that parses as an event is accepted, whatever its declared type, so that a
// proxy or test tool that changes or drops the header loses no delivery.
func handleEvent[E any](logger *slog.Logger, auth authenticator, m *metrics.Metrics, maxBody int64, now func() time.Time,
	parse func([]byte) (E, error), idOf func(E) string,
	accept func(ctx context.Context, ev E, raw []byte, receivedAt time.Time) (bool, error),
) http.Handler {
	reject := func(w http.ResponseWriter, r *http.Request, status int, outcome, reason string) {
		m.Deliveries.WithLabelValues(outcome).Inc()
		logger.LogAttrs(r.Context(), slog.LevelWarn, "delivery rejected",
			slog.String("outcome", outcome),
			slog.String("reason", reason),
			slog.Int("status", status),
			slog.String("remote_addr", r.RemoteAddr))
		http.Error(w, reason, status)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		receivedAt := now()

		if reason, ok := auth.check(r); !ok {
			auth.challenge(w)
			reject(w, r, http.StatusUnauthorized, outcomeUnauthorized, reason)
			return
		}

		gzipped, reason := contentEncoding(r.Header.Values("Content-Encoding"))
		if reason != "" {
			w.Header().Set("Accept-Encoding", "gzip")
			reject(w, r, http.StatusUnsupportedMediaType, outcomeUnsupported, reason)
			return
		}
		tooLarge := fmt.Sprintf("body exceeds %d bytes", maxBody)
		if r.ContentLength > maxBody {
			reject(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge, tooLarge)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				reject(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge, tooLarge)
				return
			}
			reject(w, r, http.StatusBadRequest, outcomeBadRequest, "reading body failed")
			return
		}
		if gzipped {
			var status int
			if raw, status, reason = gunzip(raw, maxBody); reason != "" {
				outcome := outcomeBadRequest
				if status == http.StatusRequestEntityTooLarge {
					outcome = outcomeTooLarge
				}
				reject(w, r, status, outcome, reason)
				return
			}
		}
		raw = inviter.TrimBOM(raw)

		ev, err := parse(raw)
		if err != nil {
			reject(w, r, http.StatusBadRequest, outcomeBadRequest, oneLine(err.Error()))
			return
		}
		test := isTest(ev)

		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), intakeTimeout)
		defer cancel()
		duplicate, err := accept(ctx, ev, raw, receivedAt)
		if err != nil {
			m.Deliveries.WithLabelValues(outcomeError).Inc()
			logger.LogAttrs(r.Context(), slog.LevelError, "storing delivery failed",
				slog.String("identity_id", idOf(ev)),
				slog.String("remote_addr", r.RemoteAddr),
				slog.Int("status", http.StatusServiceUnavailable),
				slog.Any("error", err))
			http.Error(w, "could not store the delivery; try again later", http.StatusServiceUnavailable)
			return
		}

		outcome := outcomeAccepted
		switch {
		case test:
			outcome = outcomeTest
		case duplicate:
			outcome = outcomeDuplicate
		}
		m.Deliveries.WithLabelValues(outcome).Inc()
		msg := "delivery accepted"
		if test {
			msg = "delivery accepted: ISC's sample identity (a test event unless ISC knows the identity)"
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, msg,
			slog.String("identity_id", idOf(ev)),
			slog.Bool("duplicate", duplicate),
			slog.Bool("test", test),
			slog.String("remote_addr", r.RemoteAddr))
		// ISC expects 200 with an empty body.
		w.WriteHeader(http.StatusOK)
	})
}

// oneLine folds s onto one line, so that a client reason stays one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTest reports whether ev is one of ISC's test events.
func isTest(ev any) bool {
	t, ok := ev.(interface{ IsTest() bool })
	return ok && t.IsTest()
}

// contentEncoding reads the Content-Encoding header values: gzipped is true
// when the body is gzip-compressed; reason, when not empty, says why the
// encoding is not supported. Only gzip (also spelled x-gzip, once) and
// identity are; RFC 9110 section 8.4 lists the codings applied in order.
func contentEncoding(values []string) (gzipped bool, reason string) {
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			switch c = strings.ToLower(strings.TrimSpace(c)); c {
			case "", "identity":
			case "gzip", "x-gzip":
				if gzipped {
					return false, "Content-Encoding gzip is applied more than once; send it once"
				}
				gzipped = true
			default:
				if len(c) > 32 {
					c = c[:32] + "…"
				}
				return false, fmt.Sprintf("Content-Encoding %q is not supported; send gzip or no encoding", c)
			}
		}
	}
	return gzipped, ""
}

// gunzip decompresses body, refusing more than maxBody decompressed bytes.
// On failure it returns the status (400 or 413) and a one-line reason.
func gunzip(body []byte, maxBody int64) (raw []byte, status int, reason string) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, http.StatusBadRequest, "Content-Encoding is gzip but the body is not gzip data: " + oneLine(err.Error())
	}
	raw, err = io.ReadAll(io.LimitReader(zr, maxBody+1))
	if err == nil {
		err = zr.Close()
	}
	switch {
	case int64(len(raw)) > maxBody:
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("decompressed body exceeds %d bytes", maxBody)
	case err != nil:
		return nil, http.StatusBadRequest, "malformed gzip body: " + oneLine(err.Error())
	}
	return raw, 0, ""
}
