package isctest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// detailCode values of ISC's ErrorResponseDto, as the specs' examples give them.
const (
	detail400 = "400.1 Bad Request Content"
	detail403 = "403 Forbidden"
	detail404 = "404 Not found"
	detail500 = "500.0 Internal Fault"
)

// errorMessage is ISC's ErrorMessageDto.
type errorMessage struct {
	Locale       string `json:"locale"`
	LocaleOrigin string `json:"localeOrigin"`
	Text         string `json:"text"`
}

// errorResponse is ISC's ErrorResponseDto.
type errorResponse struct {
	DetailCode string         `json:"detailCode"`
	TrackingID string         `json:"trackingId"`
	Messages   []errorMessage `json:"messages"`
	Causes     []errorMessage `json:"causes"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, detailCode, text string) {
	writeJSON(w, status, errorResponse{
		DetailCode: detailCode,
		TrackingID: newHexID(),
		Messages:   []errorMessage{{Locale: "en-US", LocaleOrigin: "DEFAULT", Text: text}},
		Causes:     []errorMessage{},
	})
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, detail400, fmt.Sprintf(format, args...))
}

func notFound(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusNotFound, detail404, fmt.Sprintf(format, args...))
}

// decodeJSON decodes the request body into v, answering 400 on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20))
	if err := dec.Decode(v); err != nil {
		badRequest(w, "The request body could not be read: %v", err)
		return false
	}
	return true
}

// pageParams reads limit and offset (V3 standard collection parameters:
// limit 0..max, default max; offset ≥ 0, default 0) and count.
//
// Inferred: a limit above the maximum is refused with 400, as the specs
// declare "maximum: 250", rather than silently capped.
func pageParams(w http.ResponseWriter, r *http.Request, max int) (limit, offset int, count, ok bool) {
	q := r.URL.Query()
	limit, offset = max, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > max {
			badRequest(w, "The value %q is not valid for the query parameter 'limit': it must be between 0 and %d.", v, max)
			return 0, 0, false, false
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			badRequest(w, "The value %q is not valid for the query parameter 'offset': it must be 0 or more.", v)
			return 0, 0, false, false
		}
		offset = n
	}
	if v := q.Get("count"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			badRequest(w, "The value %q is not valid for the query parameter 'count'.", v)
			return 0, 0, false, false
		}
		count = b
	}
	return limit, offset, count, true
}

// page returns the part of items that limit and offset select.
func page[T any](items []T, limit, offset int) []T {
	if offset >= len(items) {
		return items[:0]
	}
	end := min(offset+limit, len(items))
	return items[offset:end]
}

// isoTime formats t as ISC does: UTC with milliseconds.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// newHexID returns 32 lowercase hex digits, the shape of ISC's ids.
func newHexID() string { return hex.EncodeToString(randomBytes(16)) }

// newUUID returns a random (version 4) UUID, the shape of trigger ids.
func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
