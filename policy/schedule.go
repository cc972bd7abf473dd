package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultInviteDaysBefore is the number of days before the start date an
// identity is invited when Config.InviteDaysBefore is zero: ISC's invitation
// links are valid for 7 days.
const DefaultInviteDaysBefore = 7

// OnStartDate, as Config.InviteDaysBefore, invites on the start date itself
// (0 days before). Any negative value means the same.
const OnStartDate = -1

// DateOnlyHour is the hour of the day, in Config.Location, at which an
// identity whose start date has no time of day is invited (09:00).
const DateOnlyHour = 9

// minEpochMillis is 1990-01-01T00:00:00Z in milliseconds. A number below it
// is more likely a misread date (such as 20250401) than a start date.
const minEpochMillis = 631152000000

// maxEpochMillis is 9999-12-31T23:59:59Z in milliseconds.
const maxEpochMillis = 253402300799999

// errNotDate is wrapped by the errors of parseDate.
var errNotDate = errors.New("not a date")

// dateFormats names the accepted formats in warnings.
const dateFormats = "want RFC 3339, 2006-01-02, 01/02/2006, 2006-01-02T15:04:05 or epoch milliseconds"

// date is a parsed start date: either an instant, or a calendar date without
// a time of day.
type date struct {
	t        time.Time // the instant; for a date-only value, midnight in the location
	dateOnly bool
}

// zoned are layouts that carry their own zone (tried in order).
var zoned = [...]string{
	time.RFC3339,               // 2006-01-02T15:04:05Z07:00, fractional seconds accepted
	"2006-01-02T15:04:05Z0700", // +0000 without a colon
	"2006-01-02 15:04:05Z07:00",
}

// local are layouts without a zone, read in the configured location.
var local = [...]string{
	"2006-01-02T15:04:05", // fractional seconds accepted
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
}

// parseDate parses a start date value in the formats ISC sources commonly
// send: RFC 3339; 2006-01-02; 01/02/2006 (month first; one-digit month and
// day accepted); 20060102; 2006-01-02T15:04:05 and 2006-01-02 15:04:05
// without a zone (read in loc); epoch milliseconds as a JSON number or a
// string of digits; and, for Go callers, a time.Time.
func parseDate(v any, loc *time.Location) (date, error) {
	switch v := v.(type) {
	case string:
		return parseDateString(strings.TrimSpace(v), loc)
	case time.Time:
		return date{t: v}, nil
	case json.Number:
		if ms, err := v.Int64(); err == nil {
			return fromMillis(float64(ms))
		}
		f, err := v.Float64()
		if err != nil {
			return date{}, fmt.Errorf("%w: %s", errNotDate, dateFormats)
		}
		return fromMillis(f)
	case bool, []any, map[string]any, nil:
		return date{}, fmt.Errorf("%w: a JSON %s (%s)", errNotDate, jsonType(v), dateFormats)
	}
	if f, ok := number(v); ok {
		return fromMillis(f)
	}
	return date{}, fmt.Errorf("%w: a %T (%s)", errNotDate, v, dateFormats)
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

func parseDateString(s string, loc *time.Location) (date, error) {
	if s != "" && allDigits(s) {
		if len(s) == 8 { // 20060102
			if t, err := time.ParseInLocation("20060102", s, loc); err == nil {
				return date{t: t, dateOnly: true}, nil
			}
			return date{}, fmt.Errorf("%w (%s)", errNotDate, dateFormats)
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return date{}, fmt.Errorf("%w (%s)", errNotDate, dateFormats)
		}
		return fromMillis(float64(ms))
	}
	// The common cases first, without trying layouts that cannot fit.
	if len(s) == 10 && s[4] == '-' {
		if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
			return date{t: t, dateOnly: true}, nil
		}
		return date{}, fmt.Errorf("%w (%s)", errNotDate, dateFormats)
	}
	if strings.IndexByte(s, '/') >= 0 {
		if t, err := time.ParseInLocation("1/2/2006", s, loc); err == nil {
			return date{t: t, dateOnly: true}, nil
		}
		return date{}, fmt.Errorf("%w (%s)", errNotDate, dateFormats)
	}
	if hasZone(s) {
		for _, layout := range zoned {
			if t, err := time.Parse(layout, s); err == nil {
				return date{t: t}, nil
			}
		}
	} else {
		for _, layout := range local {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return date{t: t}, nil
			}
		}
	}
	return date{}, fmt.Errorf("%w (%s)", errNotDate, dateFormats)
}

// hasZone reports whether a date-time string ends in a zone: Z, or an offset
// such as +02:00 or -0500 after the time of day.
func hasZone(s string) bool {
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return true
	}
	i := strings.LastIndexAny(s, "+-")
	return i > 10 // after the date's own dashes
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fromMillis reads f as milliseconds since the Unix epoch.
func fromMillis(f float64) (date, error) {
	if math.IsNaN(f) || f < minEpochMillis || f > maxEpochMillis {
		return date{}, fmt.Errorf("%w: %s is out of range for epoch milliseconds (%s)", errNotDate, strconv.FormatFloat(f, 'f', -1, 64), dateFormats)
	}
	return date{t: time.UnixMilli(int64(f)).UTC()}, nil
}

// inviteAt returns when to invite for start date d: days calendar days before
// it, at its clock time in loc, or at DateOnlyHour:00 in loc for a date-only
// value. Calendar arithmetic keeps the wall-clock time across DST changes.
func inviteAt(d date, days int, loc *time.Location) time.Time {
	if d.dateOnly {
		y, m, day := d.t.Date()
		return time.Date(y, m, day-days, DateOnlyHour, 0, 0, 0, loc)
	}
	return d.t.In(loc).AddDate(0, 0, -days)
}

// String renders a start date for reasons.
func (d date) String() string {
	if d.dateOnly {
		return d.t.Format(time.DateOnly)
	}
	return d.t.Format(time.RFC3339)
}
