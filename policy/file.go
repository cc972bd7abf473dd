package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxFileSize bounds a policy file; a larger one is surely not a policy.
const maxFileSize = 1 << 20

// Setting names of a policy file.
const (
	settingStartDate = "start-date-attribute"
	settingDays      = "invite-days-before"
	settingTimezone  = "timezone"
)

// Load reads the policy file at path into a Config, ready for New.
//
// The file is text, one item a line. Blank lines and lines starting with #
// are ignored, and a # that begins a word ends a line (outside quotes).
// A line is either a rule (syntax in the package documentation; all rules
// must hold) or a setting written NAME: VALUE:
//
//	start-date-attribute: startDate   # Config.StartDateAttribute
//	invite-days-before: 7             # days; 0 = on the start date; default 7
//	timezone: Europe/Berlin           # IANA name; default UTC
//
// invite-days-before counts literally: 0 means on the start date (Load sets
// OnStartDate), and leaving it out means the default of 7. Each setting may
// appear once. Errors name the file and line; an error for a rule is a
// *RuleError.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := readLimited(f, maxFileSize)
	if err != nil {
		return Config{}, fmt.Errorf("policy: %s: %w", path, err)
	}
	return parseFile(path, data)
}

func readLimited(f *os.File, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes: not a policy file", limit)
	}
	return data, nil
}

// parseFile parses the text of a policy file; name is used in errors.
func parseFile(name string, data []byte) (Config, error) {
	var cfg Config
	seen := map[string]int{} // setting → line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimPrefix(sc.Text(), "\uFEFF") // a BOM some editors write
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if key, value, ok := setting(trimmed); ok {
			if prev, dup := seen[key]; dup {
				return Config{}, fmt.Errorf("%s:%d: %s is already set on line %d", name, line, key, prev)
			}
			seen[key] = line
			if err := cfg.set(key, value); err != nil {
				return Config{}, fmt.Errorf("%s:%d: %s: %w", name, line, key, err)
			}
			continue
		}
		if _, err := parseRule(text); err != nil {
			if re, ok := errors.AsType[*RuleError](err); ok {
				re.File, re.Line = name, line
				if key, ok := unknownSetting(trimmed); ok {
					return Config{}, fmt.Errorf("%s:%d: unknown setting %q (known: %s, %s, %s)", name, line, key, settingStartDate, settingDays, settingTimezone)
				}
			}
			return Config{}, err
		}
		cfg.Rules = append(cfg.Rules, trimmed)
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("policy: %s: %w", name, err)
	}
	if cfg.InviteDaysBefore != 0 && cfg.StartDateAttribute == "" {
		return Config{}, fmt.Errorf("%s:%d: %s needs %s", name, seen[settingDays], settingDays, settingStartDate)
	}
	return cfg, nil
}

// setting splits a line NAME: VALUE whose NAME is a known setting.
func setting(line string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(line, ":")
	if !ok {
		return "", "", false
	}
	key = strings.ToLower(strings.TrimSpace(key))
	switch key {
	case settingStartDate, settingDays, settingTimezone:
	default:
		return "", "", false
	}
	value = stripComment(strings.TrimSpace(value))
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		if u, err := strconv.Unquote(value); err == nil {
			value = u
		}
	}
	return key, value, true
}

// unknownSetting reports whether a line that is no rule looks like a
// setting, NAME: VALUE with NAME made of letters and dashes.
func unknownSetting(line string) (string, bool) {
	key, _, ok := strings.Cut(line, ":")
	if !ok || key == "" {
		return "", false
	}
	key = strings.TrimSpace(key)
	for _, c := range key {
		if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", false
		}
	}
	return key, key != ""
}

// stripComment cuts a trailing comment, a # after white space.
func stripComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && isSpaceByte(s[i-1]) {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func (cfg *Config) set(key, value string) error {
	if value == "" {
		return errors.New("missing value")
	}
	switch key {
	case settingStartDate:
		cfg.StartDateAttribute = value
	case settingDays:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole number of days (0 or more)", value)
		}
		if n == 0 {
			n = OnStartDate
		}
		cfg.InviteDaysBefore = n
	case settingTimezone:
		loc, err := time.LoadLocation(value)
		if err != nil {
			return fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin, or UTC)", value)
		}
		cfg.Location = loc
	}
	return nil
}
