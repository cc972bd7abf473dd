package inviter

import (
	"fmt"
	"strings"
)

// StatusClass says what inviter does with an identity in a given ISC
// identity status.
type StatusClass int

const (
	// StatusUnknown: inviter does not invite and records a skip whose
	// reason names the status. It is the class of every status the table
	// does not list, so a status ISC adds later is never mailed blindly.
	StatusUnknown StatusClass = iota
	// StatusInvitable: the identity has not registered; invite it.
	StatusInvitable
	// StatusRegistered: the identity has registered (or signed in);
	// never invite it.
	StatusRegistered
)

// String returns the class's name: unknown, invite or registered.
func (c StatusClass) String() string {
	switch c {
	case StatusInvitable:
		return "invite"
	case StatusRegistered:
		return "registered"
	}
	return "unknown"
}

// statusEntry is one row of the status table.
type statusEntry struct {
	class  StatusClass
	reason string
}

// statusTable classifies the values of the Identity schema's identityStatus
// (GET /v2025/identities, GET /beta/identities: UNREGISTERED, REGISTERED,
// PENDING, WARNING, DISABLED, ACTIVE, DEACTIVATED, TERMINATED, ERROR,
// LOCKED) and of the cloudStatus attribute and the /cc user list's status,
// which use the same words (the specs' examples show cloudStatus
// UNREGISTERED and ACTIVE; the list filter cloudStatus eq "UNREGISTERED"
// is the one the specs document).
//
// Sources:
//   - [spec] the identityStatus enum of sailpoint-api.v2025.yaml and
//     sailpoint-api.beta.yaml (Identity schema), which names the values but
//     does not describe them;
//   - [invite] POST /beta/identities/invite: "This task will send an
//     invitation email only for unregistered identities"; invitations
//     expire after 7 days and may be sent again;
//   - [forum] developer.sailpoint.com/discuss/t/identity-status/5310: an
//     identity that never signed in shows as not invited (UNREGISTERED);
//     its status turns ACTIVE when the user signs in for the first time,
//     and only signing in changes it;
//   - [help] documentation.sailpoint.com/saas/help/identities/identity_mgmt.html
//     ("Viewing Identity Statuses", "Resolving an Error Status"): the
//     Error status marks identities with email configuration errors,
//     authentication source mismatches or provisioning issues.
var statusTable = map[string]statusEntry{
	// [spec][invite][forum] never signed in: the one status ISC mails.
	"UNREGISTERED": {StatusInvitable, "not registered"},
	// Inferred: PENDING is an identity whose registration is pending (or
	// still being processed); it has not signed in, but [invite] mails
	// only UNREGISTERED identities, so sending it would record an
	// invitation ISC does not send. Skipped, with the status named.
	"PENDING": {StatusUnknown, "identity status PENDING: ISC's invite task mails only UNREGISTERED identities; not invited"},

	// [spec][forum] signed in at least once.
	"ACTIVE":     {StatusRegistered, "registered (status ACTIVE)"},
	"REGISTERED": {StatusRegistered, "registered (status REGISTERED)"},
	// Inferred: only a user with a password can be locked out by failed
	// sign-ins (the v2025 spec's account "Locked" wording: "someone has
	// entered an incorrect password for the account too many times"), so a
	// LOCKED identity has registered; inviting it would not unlock it.
	"LOCKED": {StatusRegistered, "registered (status LOCKED: locked out after failed sign-ins)"},

	// Not invited, and not registered either: the reason is recorded.
	// [help] an identity in Error has an email configuration or
	// authentication problem that an invitation cannot fix.
	"ERROR": {StatusUnknown, "identity status ERROR (email configuration, authentication source or provisioning problem): not invited"},
	// Inferred: WARNING flags an identity with a problem to look at (the
	// specs do not describe it); inviter does not mail it blindly.
	"WARNING": {StatusUnknown, "identity status WARNING: not invited until the warning is resolved"},
	// Inferred: a disabled, deactivated or terminated identity cannot sign
	// in, so an invitation would only mail someone who cannot use it.
	"DISABLED":    {StatusUnknown, "identity status DISABLED: a disabled identity is not invited"},
	"DEACTIVATED": {StatusUnknown, "identity status DEACTIVATED: a deactivated identity is not invited"},
	"TERMINATED":  {StatusUnknown, "identity status TERMINATED: a terminated identity is not invited"},
}

// ClassifyStatus says what inviter does with an identity in ISC identity
// status status (identityStatus, cloudStatus or the /cc list's status; the
// case is ignored), with a reason for people. An empty status (ISC sent
// none) is invitable: ISC's own invite task mails only unregistered
// identities, and inviter reads what the task did. Any status the table
// does not list is StatusUnknown, and the reason names it.
func ClassifyStatus(status string) (StatusClass, string) {
	s := strings.ToUpper(strings.TrimSpace(status))
	if s == "" {
		return StatusInvitable, "no identity status reported"
	}
	if e, ok := statusTable[s]; ok {
		return e.class, e.reason
	}
	return StatusUnknown, fmt.Sprintf("identity status %s is not one inviter knows: not invited", s)
}

// statusSkipPrefix begins the reason of every StatusUnknown status.
const statusSkipPrefix = "identity status "

// IsStatusSkip reports whether reason is that of a skip for a status the
// table does not invite (ClassifyStatus's StatusUnknown reasons). Such a
// skip depends on the identity's state at that moment: a tenant may show a
// new joiner PENDING first and UNREGISTERED later, so it is not final, and
// reconcile looks at the identity again.
func IsStatusSkip(reason string) bool {
	return strings.HasPrefix(reason, statusSkipPrefix)
}
