package inviter

// Source says what asked for an invite. It is stored with the invite job
// and in the audit trail, and shown by inviter audit.
type Source string

const (
	// SourceEvent is an Identity Created webhook delivery.
	SourceEvent Source = "event"
	// SourceAttributes is an Identity Attributes Changed delivery that made
	// the identity eligible.
	SourceAttributes Source = "attributes-changed"
	// SourceReconcile is reconciliation finding an uninvited identity.
	SourceReconcile Source = "reconcile"
	// SourceReinvite is a re-invite: the previous invitation expired
	// unused.
	SourceReinvite Source = "reinvite"
	// SourceCLI is inviter invite.
	SourceCLI Source = "cli"
)

// Valid reports whether s is one of the sources above.
func (s Source) Valid() bool {
	switch s {
	case SourceEvent, SourceAttributes, SourceReconcile, SourceReinvite, SourceCLI:
		return true
	}
	return false
}

// InviteState is where an identity's invite stands.
type InviteState string

const (
	// StatePending means an invite is wanted and not yet settled (queued,
	// retrying, waiting for the tenant to show the identity).
	StatePending InviteState = "pending"
	// StateInvited means ISC accepted an invitation for the identity.
	StateInvited InviteState = "invited"
	// StateFailed means inviting gave up (a permanent error, retries
	// exhausted); the audit trail says why. Retrying the job may revive it.
	StateFailed InviteState = "failed"
	// StateSkipped means there was nothing to send (already registered,
	// the policy).
	StateSkipped InviteState = "skipped"
)

// InviteStates lists every InviteState, in the order a status page shows
// them.
var InviteStates = []InviteState{StatePending, StateInvited, StateFailed, StateSkipped}
