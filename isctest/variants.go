package isctest

import "fmt"

// CCOrder is the order of the /cc user list (Options.CCOrder).
//
// Inferred: the /cc API is undocumented; SailPoint says nothing of the
// order of /cc/api/user/list, so each plausible one is selectable.
type CCOrder string

// The orders of the /cc user list.
const (
	// CCOrderCreated lists users in creation order: new users at the end.
	CCOrderCreated CCOrder = ""
	// CCOrderName lists users by name (case-insensitive): new users land
	// anywhere in the list.
	CCOrderName CCOrder = "name"
	// CCOrderNewestFirst lists the newest users first: new users at the
	// start, shifting every later page.
	CCOrderNewestFirst CCOrder = "newest"
)

// ParseCCOrder reads a CCOrder from its flag spelling: "created", "name"
// or "newest".
func ParseCCOrder(s string) (CCOrder, error) {
	switch s {
	case "", "created":
		return CCOrderCreated, nil
	case "name":
		return CCOrderName, nil
	case "newest":
		return CCOrderNewestFirst, nil
	}
	return "", fmt.Errorf("unknown /cc list order %q (want created, name or newest)", s)
}

// UnknownIDMode is what the public invite does with an id that is unknown
// or not visible yet (Options.UnknownIDs).
//
// Inferred: the specs document a 400 for the invite but not whether one
// unknown id refuses the whole call; both behaviours are selectable.
type UnknownIDMode string

// The behaviours of the public invite for unknown ids.
const (
	// UnknownIDsReject refuses the whole call with 400 naming the id; no
	// one is mailed.
	UnknownIDsReject UnknownIDMode = ""
	// UnknownIDsSkip answers 202, mails the others and skips the id
	// silently; the task ends WARNING with one message per skipped id.
	UnknownIDsSkip UnknownIDMode = "skip"
)

// ParseUnknownIDMode reads an UnknownIDMode from its flag spelling:
// "reject" or "skip".
func ParseUnknownIDMode(s string) (UnknownIDMode, error) {
	switch s {
	case "", "reject":
		return UnknownIDsReject, nil
	case "skip":
		return UnknownIDsSkip, nil
	}
	return "", fmt.Errorf("unknown mode %q for unknown ids (want reject or skip)", s)
}

// Client is a client-credentials pair the token endpoint accepts, with the
// scopes of the tokens it gets.
type Client struct {
	// ID and Secret are the client credentials.
	ID, Secret string
	// Scopes are the scopes of its tokens; nil means "sp:scopes:all".
	Scopes []string
}
