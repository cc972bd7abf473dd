// Package policy decides whom inviter invites and when.
//
// An ISC admin writes rules on identity attributes; an identity is invited
// only when its attributes satisfy every rule. With a start date attribute
// configured, a pre-hire is invited a number of days before the start date
// (7 by default, the lifetime of an ISC invitation) instead of at once. The
// package is pure logic, with no I/O and no clock of its own, used alike by
// the webhook, the reconcile job and the bulk CLI:
//
//	p, err := policy.New(policy.Config{
//		Rules:              []string{"cloudLifecycleState in (active, prehire)", "department != Contractors"},
//		StartDateAttribute: "startDate",
//	})
//	…
//	d := p.Decide(event.Attributes, time.Now())
//	// d.Invite, d.Reason (for the audit trail), d.At (zero: now), d.Warning
//
// # Rules
//
// A rule is an attribute name, an operator and, for most operators, a value:
//
//	ATTR = VALUE          equal (also ==)
//	ATTR != VALUE         not equal
//	ATTR in (V1, V2, …)   equal to one of the values
//	ATTR not in (V1, …)   equal to none of the values
//	ATTR present          has a value: not missing, not null, not ""
//	ATTR absent           missing, null or "" (the opposite of present)
//	ATTR ~ REGEX          matches the regular expression (also =~)
//	ATTR !~ REGEX         does not match it
//
// Examples:
//
//	cloudLifecycleState in (active, prehire)
//	department = Human Resources
//	department not in ("Sales, EMEA", "Human Resources", Contractors)
//	email present
//	email ~ @example\.com$
//	employeeNumber !~ ^T            # no temporary staff
//	"display name" = "Jane \"JD\" Doe"
//
// Attribute names are case-sensitive, as ISC sends them (cloudLifecycleState,
// not cloudlifecyclestate). A bare name runs up to white space or one of
// = ! ~ ( ) " , #; other names are written in double quotes. Operator words
// (in, not in, present, absent) are case-insensitive.
//
// Values: the value of =, !=, ~ and !~ is the rest of the rule with the
// surrounding white space trimmed, so department = Human Resources needs no
// quotes. The values of a list are separated by commas, with white space
// around them ignored; a bare list value cannot hold white space, so that a
// missing comma, as in (active prehire), is an error rather than one value
// "active prehire": write ("Human Resources", IT). A value in double quotes may hold anything, commas, parentheses, # and leading or
// trailing spaces included, and "" is the empty string; inside quotes \" is a
// quote and \\ a backslash, and any other backslash stands for itself, so a
// regular expression such as "^\d+$" needs no doubling. Single quotes have no
// meaning (they are part of the value): they are for the shell.
//
// Comments: a # that begins a word outside quotes ends the rule, so
// "department = R&D # research" compares with "R&D", while "code = A#1"
// compares with "A#1". Write "# …" in quotes to compare with a value that
// starts with #.
//
// # Comparing values
//
// Attribute values in ISC events may be of any JSON type. Comparison with =,
// != and the lists of in and not in is case-insensitive (Unicode simple
// case folding, strings.EqualFold) and by type:
//
//   - string: compared with the value as text, case-insensitively.
//   - number: equal when the rule's value is a number of the same value, so
//     7, 7.0 and 7e0 all equal the JSON number 7 (a string attribute "007" is
//     text and does not equal 7).
//   - boolean: its JSON text, true or false (case-insensitive: TRUE works).
//   - null, or a missing attribute: equal to nothing, so = and in fail and
//     != and not in hold. Use present and absent to test for a value.
//   - array: = and in hold when any element does; != and not in hold when
//     no element does (they are always the exact negations of = and in).
//     Nested arrays are searched too.
//   - object: its JSON text, compact with sorted keys.
//
// A regular expression (~, !~) uses Go's syntax (package regexp, RE2), is
// case-insensitive by default (start it with (?-i) to make it
// case-sensitive) and is not anchored: department ~ sales matches "Inside
// Sales"; write ^…$ to match the whole value. It is matched against a string
// as is, a number, boolean or object as its JSON text, an array element by
// element (any match counts), and never matches null or a missing attribute.
// For an exact, case-sensitive comparison write ATTR ~ (?-i)^Value$.
//
// present holds for a value that is not null and not the empty string; an
// array is present when one of its elements is (so [] and [null] are
// absent); a number, boolean or object is always present. absent is its
// negation.
//
// # Start dates
//
// With Config.StartDateAttribute set, Decide reads that attribute of an
// identity that matches the rules and schedules the invitation
// Config.InviteDaysBefore calendar days before it. Accepted values:
//
//	2025-06-30T08:00:00Z, 2025-06-30T08:00:00.000+02:00   RFC 3339
//	2025-06-30                                            date only
//	06/30/2025, 6/30/2025                                 date only, month first
//	20250630                                              date only
//	2025-06-30T08:00:00, 2025-06-30 08:00:00              no zone: Config.Location
//	1751270400000 (JSON number or digits)                 epoch milliseconds
//
// A value with a time of day is invited at that clock time, InviteDaysBefore
// days earlier in Config.Location (DST changes keep the wall-clock time). A
// date-only value is invited at 09:00 (DateOnlyHour) in Config.Location,
// InviteDaysBefore days before the date: with 7 days and the default UTC,
// 2025-06-30 is invited at 2025-06-23T09:00:00Z. Note that a value such as
// 2025-06-30T00:00:00Z carries a time of day (midnight UTC) and is invited at
// midnight UTC.
//
// ISC invitations expire 7 days after they are sent, so with the default 7
// days a date-only start date's link expires at 09:00 on the first day; use
// 6 to keep it valid for the whole first day.
//
// When that time is not after now, the identity is invited now (Decision.At
// is zero): a start date that has passed or is close. A missing, null or
// empty start date means now. A value that is not a date in one of these
// formats (or epoch milliseconds before 1990, likely a misread date) means
// now with a Decision.Warning.
//
// # Attribute changes
//
// For ISC's Identity Attributes Changed event, which carries only the
// changed attributes, BecameEligible tells whether the change made an
// identity match that did not before; see its documentation. Package
// admission then applies the whole policy (Attributes names what it reads),
// reading the identity when the event lacks one of them.
//
// # Policy files
//
// Load reads rules and start-date settings from a file: one rule per line,
// with comments after #; see Load.
package policy
