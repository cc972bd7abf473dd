// Package inviter holds the domain of the inviter service: the identities it
// invites to register in SailPoint Identity Security Cloud (ISC), the events
// that announce them, and the outcomes of invite decisions.
//
// Package app is the daemon and the one-shot uses of the CLI, built on the
// packages that each adapt one outside thing: isc is the SailPoint client,
// isctest a fake tenant, store and queue the database and the River job
// queue, web the HTTP surface. cmd/inviter turns flags and the environment
// into app's configuration.
package inviter

import (
	"fmt"
	"time"
)

// API names an ISC invite path.
type API string

const (
	// APIPublic is the public API, POST /beta/identities/invite with identity ids.
	APIPublic API = "public"
	// APICC is the legacy /cc API, POST /cc/api/user/invite with cc short ids.
	APICC API = "cc"
)

// ParseAPI parses the value of an --api flag.
func ParseAPI(s string) (API, error) {
	switch API(s) {
	case APIPublic, APICC:
		return API(s), nil
	}
	return "", fmt.Errorf("unknown API %q: want public or cc", s)
}

// Outcome is the result of one invite decision for one identity.
type Outcome string

const (
	// OutcomeInvited means ISC accepted the invitation.
	OutcomeInvited Outcome = "invited"
	// OutcomeAlreadyRegistered means the identity has registered: nothing to send.
	OutcomeAlreadyRegistered Outcome = "already_registered"
	// OutcomeNotFound means the tenant does not know the identity (yet).
	OutcomeNotFound Outcome = "not_found"
	// OutcomeSkipped means inviter decided not to invite (policy, already invited, dry run).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeFailed means the invitation could not be sent; Reason says why.
	OutcomeFailed Outcome = "failed"
	// OutcomeRetrying means the invitation could not be sent yet and is
	// tried again (a transient failure, a rate limit or a configuration
	// problem); Reason says why and when. Only "failed" means given up.
	OutcomeRetrying Outcome = "retrying"
)

// Result is the outcome of inviting one identity.
type Result struct {
	IdentityID string  `json:"identity_id"`
	CCID       string  `json:"cc_id,omitempty"` // cc short id, when the /cc path was used
	API        API     `json:"api"`
	Outcome    Outcome `json:"outcome"`
	TaskID     string  `json:"task_id,omitempty"` // ISC task id of the public invite call
	// CompletionStatus is the ISC task's completionStatus (SUCCESS,
	// WARNING, ERROR, …) when inviter read it; empty when it did not (the
	// /cc path, or a task that had not completed within the wait).
	CompletionStatus string `json:"completion_status,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// Err is the classified error behind a failed or not-found outcome
	// (see package isc for its types); nil otherwise.
	Err error `json:"-"`
}

// Identity is an ISC identity as inviter sees it.
type Identity struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Alias          string         `json:"alias,omitempty"`
	Email          string         `json:"emailAddress,omitempty"`
	Status         string         `json:"identityStatus,omitempty"` // e.g. UNREGISTERED, ACTIVE
	LifecycleState string         `json:"lifecycleState,omitempty"`
	Created        time.Time      `json:"created"`
	Attributes     map[string]any `json:"attributes,omitempty"`
}

// Registered reports whether the identity has completed registration, by
// the status table (ClassifyStatus).
func (i Identity) Registered() bool {
	c, _ := ClassifyStatus(i.Status)
	return c == StatusRegistered
}

// StatusClass classifies the identity's status (see ClassifyStatus).
func (i Identity) StatusClass() (StatusClass, string) {
	return ClassifyStatus(i.Status)
}
