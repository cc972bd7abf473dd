package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/metrics"
)

// Delivery outcomes, the values of the outcome label of
// inviter_deliveries_total.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeUnauthorized = "unauthorized"
	outcomeBadRequest   = "bad_request"
	outcomeTooLarge     = "too_large"
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
//   - a body over maxBody bytes: 413;
//   - a body that is not a valid event (parse): 400 with the one-line
//     reason as text/plain;
//   - accept: 503 when it fails (nothing stored), else 200 with an empty
//     body, duplicates included.
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

		if r.ContentLength > maxBody {
			reject(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge, fmt.Sprintf("body exceeds %d bytes", maxBody))
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				reject(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge, fmt.Sprintf("body exceeds %d bytes", maxBody))
				return
			}
			reject(w, r, http.StatusBadRequest, outcomeBadRequest, "reading body failed")
			return
		}

		ev, err := parse(raw)
		if err != nil {
			reject(w, r, http.StatusBadRequest, outcomeBadRequest, oneLine(err.Error()))
			return
		}

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
		if duplicate {
			outcome = outcomeDuplicate
		}
		m.Deliveries.WithLabelValues(outcome).Inc()
		logger.LogAttrs(r.Context(), slog.LevelInfo, "delivery accepted",
			slog.String("identity_id", idOf(ev)),
			slog.Bool("duplicate", duplicate),
			slog.String("remote_addr", r.RemoteAddr))
		// ISC expects 200 with an empty body.
		w.WriteHeader(http.StatusOK)
	})
}

// oneLine folds s onto one line, so that a client reason stays one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
