package isc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/inviter/inviter"
)

// Inviter sends invitations for many identities in few calls, through the
// public API or the legacy /cc API. It is safe for concurrent use.
type Inviter struct {
	c   *Client
	cfg InviterConfig
}

// InviterConfig configures an Inviter.
type InviterConfig struct {
	// API selects the invite path; default inviter.APIPublic.
	API inviter.API
	// BatchSize is the most ids sent in one invite call; default 100.
	// SailPoint does not document a maximum; a 400 on a batch splits it.
	BatchSize int
	// Directory maps identity ids to cc short ids; required for APICC.
	Directory *Directory
	// Precheck makes public-API invites look the identities up first (one
	// list call per 250 ids), so that unknown and already registered
	// identities are reported as such instead of being sent. The /cc path
	// always knows this from its Directory.
	Precheck bool
}

// NewInviter returns an Inviter over c.
func NewInviter(c *Client, cfg InviterConfig) (*Inviter, error) {
	if cfg.API == "" {
		cfg.API = inviter.APIPublic
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.API == inviter.APICC && cfg.Directory == nil {
		return nil, errors.New("the cc invite path needs a Directory")
	}
	return &Inviter{c: c, cfg: cfg}, nil
}

// API returns the invite path the Inviter uses.
func (in *Inviter) API() inviter.API { return in.cfg.API }

// Invite invites the identities with the given ids and returns exactly one
// Result per distinct id, in the order of ids. A Result with outcome
// failed or not_found carries the classified error in Err.
func (in *Inviter) Invite(ctx context.Context, ids []string) []inviter.Result {
	ids = dedupe(ids)
	res := make(map[string]*inviter.Result, len(ids))
	for _, id := range ids {
		res[id] = &inviter.Result{IdentityID: id, API: in.cfg.API}
	}
	if in.cfg.API == inviter.APICC {
		in.inviteCC(ctx, ids, res)
	} else {
		in.invitePublic(ctx, ids, res)
	}
	out := make([]inviter.Result, len(ids))
	for i, id := range ids {
		out[i] = *res[id]
	}
	return out
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (in *Inviter) invitePublic(ctx context.Context, ids []string, res map[string]*inviter.Result) {
	send := ids
	if in.cfg.Precheck {
		send = send[:0:0]
		for chunk := range slices.Chunk(ids, ListPageSize) {
			byID, err := in.c.LookupIdentities(ctx, chunk)
			if err != nil {
				fail(res, chunk, err)
				continue
			}
			for _, id := range chunk {
				f, ok := byID[id]
				switch {
				case !ok:
					setOutcome(res[id], inviter.OutcomeNotFound, "ISC does not know this identity", &PermanentError{Endpoint: "GET /v2025/identities", Status: http.StatusNotFound, Message: "identity not found"})
				default:
					switch class, reason := f.StatusClass(); class {
					case inviter.StatusRegistered:
						setOutcome(res[id], inviter.OutcomeAlreadyRegistered, reason, nil)
					case inviter.StatusUnknown:
						setOutcome(res[id], inviter.OutcomeSkipped, reason, nil)
					default:
						send = append(send, id)
					}
				}
			}
		}
	}
	for batch := range slices.Chunk(send, in.cfg.BatchSize) {
		in.sendPublic(ctx, batch, res)
	}
}

// sendPublic sends one batch. ISC rejects a whole call with 400 when one
// id is bad, typically an identity too new to be visible yet, so on a 400
// sendPublic looks the batch up (one list call per 250 ids), reports the
// ids ISC does not know as not found and sends the rest again. If that
// still fails with 400 it splits the batch in halves, so that one bad id
// cannot block the others. A single id answered 400 or 404 is taken as
// unknown to ISC.
// Inferred: ISC rejects the whole call when one id is unknown; it does not
// document per-id errors for this operation.
func (in *Inviter) sendPublic(ctx context.Context, batch []string, res map[string]*inviter.Result) {
	in.sendPublicTry(ctx, batch, res, true)
}

func (in *Inviter) sendPublicTry(ctx context.Context, batch []string, res map[string]*inviter.Result, lookUp bool) {
	ts, err := in.c.InviteIdentities(ctx, batch)
	if err == nil {
		for _, id := range batch {
			r := res[id]
			setOutcome(r, inviter.OutcomeInvited, "", nil)
			r.TaskID = ts.ID
		}
		return
	}
	if badRequest(err) && len(batch) > 1 && lookUp {
		known, lerr := in.c.LookupIdentities(ctx, batch)
		switch {
		case lerr != nil && IsTransient(lerr):
			fail(res, batch, lerr) // the jobs retry the whole batch later
			return
		case lerr == nil:
			var send []string
			for _, id := range batch {
				if _, ok := known[id]; ok {
					send = append(send, id)
				} else {
					setOutcome(res[id], inviter.OutcomeNotFound, "ISC does not list this identity (yet); the invite call answered 400",
						&PermanentError{Endpoint: "POST /beta/identities/invite", Status: http.StatusBadRequest, Message: "identity " + id + " is not listed"})
				}
			}
			if len(send) < len(batch) {
				if len(send) > 0 {
					in.sendPublicTry(ctx, send, res, false)
				}
				return
			}
			// Every id is listed: the 400 is about something else; split.
		}
		// A lookup ISC refuses (e.g. a token without identity read
		// rights) leaves splitting as the way to find the bad id.
	}
	if badRequest(err) && len(batch) > 1 {
		half := len(batch) / 2
		in.sendPublicTry(ctx, batch[:half], res, false)
		in.sendPublicTry(ctx, batch[half:], res, false)
		return
	}
	if badRequest(err) || IsNotFound(err) {
		for _, id := range batch {
			setOutcome(res[id], inviter.OutcomeNotFound, err.Error(), err)
		}
		return
	}
	fail(res, batch, err)
}

func (in *Inviter) inviteCC(ctx context.Context, ids []string, res map[string]*inviter.Result) {
	found, err := in.cfg.Directory.LookupMany(ctx, ids)
	if err != nil {
		var missing []string
		for _, id := range ids {
			if _, ok := found[id]; !ok {
				missing = append(missing, id)
			}
		}
		fail(res, missing, err)
	}
	var send []string // cc short ids
	byCC := make(map[string]string)
	for _, id := range ids {
		r := res[id]
		e, ok := found[id]
		switch {
		case !ok && r.Outcome == "":
			setOutcome(r, inviter.OutcomeNotFound, ErrNotInDirectory.Error(), ErrNotInDirectory)
		case !ok:
		case e.Registered:
			r.CCID = e.CCID
			_, reason := inviter.ClassifyStatus(e.Status)
			setOutcome(r, inviter.OutcomeAlreadyRegistered, "the /cc list shows the user "+reason, nil)
		case e.Class() == inviter.StatusUnknown:
			r.CCID = e.CCID
			_, reason := inviter.ClassifyStatus(e.Status)
			setOutcome(r, inviter.OutcomeSkipped, "the /cc list shows "+reason, nil)
		default:
			r.CCID = e.CCID
			send = append(send, e.CCID)
			byCC[e.CCID] = id
		}
	}
	for batch := range slices.Chunk(send, in.cfg.BatchSize) {
		in.sendCC(ctx, batch, byCC, res)
	}
}

// sendCC sends one batch of short ids, splitting on a 400 like sendPublic.
func (in *Inviter) sendCC(ctx context.Context, batch []string, byCC map[string]string, res map[string]*inviter.Result) {
	err := in.c.InviteCC(ctx, batch)
	ids := make([]string, len(batch))
	for i, cc := range batch {
		ids[i] = byCC[cc]
	}
	switch {
	case err == nil:
		for _, id := range ids {
			setOutcome(res[id], inviter.OutcomeInvited, "", nil)
		}
	case badRequest(err) && len(batch) > 1:
		half := len(batch) / 2
		in.sendCC(ctx, batch[:half], byCC, res)
		in.sendCC(ctx, batch[half:], byCC, res)
	default:
		fail(res, ids, err)
	}
}

func badRequest(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) && p.Status == http.StatusBadRequest
}

func fail(res map[string]*inviter.Result, ids []string, err error) {
	for _, id := range ids {
		setOutcome(res[id], inviter.OutcomeFailed, err.Error(), err)
	}
}

func setOutcome(r *inviter.Result, o inviter.Outcome, reason string, err error) {
	r.Outcome, r.Reason, r.Err = o, reason, err
}

// Describe says what happened to one identity, in a few words for people.
func Describe(r inviter.Result) string {
	switch r.Outcome {
	case inviter.OutcomeInvited:
		if r.TaskID != "" {
			return fmt.Sprintf("invited (task %s)", r.TaskID)
		}
		if r.CCID != "" {
			return fmt.Sprintf("invited (cc id %s)", r.CCID)
		}
		return "invited"
	case inviter.OutcomeAlreadyRegistered:
		return "already registered"
	case inviter.OutcomeNotFound:
		return "not found: " + r.Reason
	case inviter.OutcomeSkipped:
		return "skipped: " + r.Reason
	default:
		return "failed: " + r.Reason
	}
}
