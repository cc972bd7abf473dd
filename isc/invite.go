package isc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/inviter/inviter"
)

// Inviter sends invitations for many identities in few calls, through the
// public API or the legacy /cc API. It is safe for concurrent use.
type Inviter struct {
	c    *Client
	cfg  InviterConfig
	book *addressBook // nil when RememberAddresses is negative
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
	// NoLookup sends public-API invites without looking the identities up
	// first. By default each batch is looked up (one list call per batch
	// of 100; ids in (…) lists are split to keep the URI under 8 KB), so that identities ISC does not list yet are reported not
	// found, registered ones already registered and those in a status the
	// status table does not invite skipped, instead of being sent; set it
	// only when the ids come from a list just read. The /cc path always
	// knows this from its Directory.
	NoLookup bool
	// Listed, with NoLookup, is what the list the ids came from showed of
	// them (by id). The public path then uses it as a lookup's answer,
	// without a call: of identities sharing an email address only the
	// first is sent, and task messages that name no identity are
	// explained by the addresses it shows.
	Listed map[string]inviter.Identity
	// TaskPoll is the wait before the first read of an invite task that
	// the 202 reports still running; each later read waits twice as long.
	// Default 2 s.
	TaskPoll time.Duration
	// TaskWait is the longest an invite call waits for its task to
	// complete; default 30 s, and never past the call's deadline.
	TaskWait time.Duration
	// RememberAddresses is how long the Inviter remembers, per email
	// address, the earliest created identity it has seen with it, so that
	// an identity sharing that address in a later call is not sent either
	// (see holdSharedAddresses). Default 24 h; negative: only the ids of
	// one call are compared. The memory is the process's own: another
	// process, or this one after a restart, starts empty.
	RememberAddresses time.Duration
	// Now is the clock of that memory; default time.Now.
	Now func() time.Time
}

// NewInviter returns an Inviter over c.
func NewInviter(c *Client, cfg InviterConfig) (*Inviter, error) {
	if cfg.API == "" {
		cfg.API = inviter.APIPublic
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.TaskPoll <= 0 {
		cfg.TaskPoll = 2 * time.Second
	}
	if cfg.TaskWait <= 0 {
		cfg.TaskWait = 30 * time.Second
	}
	if cfg.API == inviter.APICC && cfg.Directory == nil {
		return nil, errors.New("the cc invite path needs a Directory")
	}
	if cfg.RememberAddresses == 0 {
		cfg.RememberAddresses = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Inviter{c: c, cfg: cfg, book: newAddressBook(cfg.RememberAddresses, maxRememberedAddresses, cfg.Now)}, nil
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

// invitePublic looks the identities up (unless NoLookup), sends the
// invitable ones in batches and settles each batch by what ISC's task
// reports (see settle).
func (in *Inviter) invitePublic(ctx context.Context, ids []string, res map[string]*inviter.Result) {
	send := ids
	var known map[string]inviter.Identity // what the lookup saw, nil without one
	if !in.cfg.NoLookup {
		send = send[:0:0]
		known = make(map[string]inviter.Identity, len(ids))
		for chunk := range slices.Chunk(ids, ListPageSize) {
			byID, err := in.c.LookupIdentities(ctx, chunk)
			var auth *AuthError
			switch {
			case errors.As(err, &auth) && auth.Status == http.StatusForbidden:
				// A token without identity read rights: the task's report
				// is all there is to go by.
				send = append(send, chunk...)
				continue
			case err != nil:
				fail(res, chunk, err)
				continue
			}
			for _, id := range chunk {
				f, ok := byID[id]
				if ok {
					known[id] = f
				}
				if !ok {
					setOutcome(res[id], inviter.OutcomeNotFound, "ISC does not list this identity (yet)", &PermanentError{Endpoint: "GET /v2025/identities", Status: http.StatusNotFound, Message: "identity not found"})
					continue
				}
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
		send = in.holdSharedAddresses(send, res, publicCandidate(known), createdBefore,
			"GET "+in.c.cfg.APIVersion.endpoints().identities)
	} else if in.cfg.Listed != nil {
		known = in.cfg.Listed
		send = in.holdSharedAddresses(send, res, publicCandidate(known), createdBefore,
			"GET "+in.c.cfg.APIVersion.endpoints().identities)
	}
	// Each accepted call's task is awaited on its own while the next
	// batches go out, so a long list waits for its tasks once, not once a
	// batch.
	var tasks sync.WaitGroup
	for batch := range slices.Chunk(send, in.cfg.BatchSize) {
		in.sendPublic(ctx, batch, res, known, &tasks)
	}
	tasks.Wait()
}

// sendPublic sends one batch. ISC may reject a whole call with 400 (or
// 404) when one id is bad, typically an identity too new to be visible
// yet, so on a 400 or 404 sendPublic looks the batch up (one list call per
// 250 ids), reports the ids ISC does not know as not found and sends the
// rest again. If that still fails it splits the batch in halves, so that
// one bad id cannot block the others. A single id answered 400 or 404 is
// taken as unknown to ISC. A call ISC accepts is settled by its task
// (settle).
//
// A 404 for identities the lookup lists, whose message names none of
// them, is about the route, not the identities (the tenant does not serve
// the configured API version's invite): every id fails with a *RouteError,
// a configuration problem, so the jobs wait for an operator instead of
// running out as "not visible yet".
// Inferred: a tenant either rejects the whole call when one id is unknown
// or accepts it and skips the id (its task then ends WARNING); SailPoint
// documents neither, so both are handled.
func (in *Inviter) sendPublic(ctx context.Context, batch []string, res map[string]*inviter.Result, known map[string]inviter.Identity, tasks *sync.WaitGroup) {
	in.sendPublicTry(ctx, batch, res, true, known, tasks)
}

func (in *Inviter) sendPublicTry(ctx context.Context, batch []string, res map[string]*inviter.Result, lookUp bool, known map[string]inviter.Identity, tasks *sync.WaitGroup) {
	ts, err := in.c.InviteIdentities(ctx, batch)
	if err == nil {
		// Each batch's ids have Results of their own: settling writes
		// only those.
		tasks.Go(func() { in.settle(ctx, ts, batch, res, known) })
		return
	}
	endpoint := in.c.InviteEndpoint()
	notFound := IsNotFound(err)
	if notFound && !namesAny(err, batch) && allListed(batch, known) {
		fail(res, batch, routeError(endpoint, err))
		return
	}
	refused := badRequest(err) || notFound
	if refused && len(batch) > 1 && lookUp {
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
					setOutcome(res[id], inviter.OutcomeNotFound, fmt.Sprintf("ISC does not list this identity (yet); the invite call answered %d", httpStatus(err)),
						&PermanentError{Endpoint: endpoint, Status: httpStatus(err), Message: "identity " + id + " is not listed"})
				}
			}
			if len(send) < len(batch) {
				if len(send) > 0 {
					in.sendPublicTry(ctx, send, res, false, known, tasks)
				}
				return
			}
			// Every id is listed: the answer is about something else.
			if notFound && !namesAny(err, batch) {
				fail(res, batch, routeError(endpoint, err))
				return
			}
		}
		// A lookup ISC refuses (e.g. a token without identity read
		// rights) leaves splitting as the way to find the bad id.
	}
	if refused && len(batch) > 1 {
		half := len(batch) / 2
		in.sendPublicTry(ctx, batch[:half], res, false, known, tasks)
		in.sendPublicTry(ctx, batch[half:], res, false, known, tasks)
		return
	}
	if refused {
		for _, id := range batch {
			setOutcome(res[id], inviter.OutcomeNotFound, err.Error(), err)
		}
		return
	}
	fail(res, batch, err)
}

// namesAny reports whether ISC's message in err names one of ids.
func namesAny(err error, ids []string) bool {
	var p *PermanentError
	if !errors.As(err, &p) {
		return false
	}
	for _, id := range ids {
		if strings.Contains(p.Message, id) {
			return true
		}
	}
	return false
}

// allListed reports whether the lookup (known) showed every id.
func allListed(ids []string, known map[string]inviter.Identity) bool {
	if known == nil {
		return false
	}
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			return false
		}
	}
	return true
}

// routeError is the error of an invite answered 404 for identities ISC
// lists: the route is missing, not the identities.
func routeError(endpoint string, err error) error {
	var p *PermanentError
	msg := ""
	if errors.As(err, &p) {
		msg = p.Message
	}
	return &RouteError{Endpoint: endpoint, Status: http.StatusNotFound, Message: msg}
}

// Completion statuses of an ISC task (the TaskStatus schema's enum).
const (
	taskSuccess = "SUCCESS"
	taskWarning = "WARNING"
	taskError   = "ERROR"
)

// settle records what ISC did with a batch it accepted, by its task: the
// 202's TaskStatus when it is complete already, else the task read again
// (GET task-status) after TaskPoll, then twice as long each time, for at
// most TaskWait.
//
//   - SUCCESS: every id invited.
//   - A WARN message naming an id: ISC skipped it (e.g. not visible yet):
//     not found, so the job tries again later. An ERROR message naming an
//     id: ISC could not mail it (e.g. no email address): failed, with
//     ISC's message. The ids no message names are invited.
//   - ERROR messages that name no id, as many as the ids of the call the
//     lookup (known) showed without an email address and no message
//     names: those ids are failed with ISC's messages, the others invited.
//     Inferred: SailPoint does not say whether the invite task's messages
//     name the identity; a tenant whose messages do not is still read
//     exactly when the lookup explains every message.
//   - WARNING, ERROR or any other status with a WARN or ERROR message that
//     names no id of the batch (and is not explained as above), or with no
//     message at all: which ids ISC mailed is unknown. The ids no message names are failed, with the
//     task's status and messages, and are never sent again by inviter
//     itself: sending twice would mail people twice.
//   - A task still running after TaskWait, a task inviter cannot read
//     (e.g. a token without idn:task-management:read) or a 2xx naming no
//     task: ISC accepted the invitation and nothing says it did not send
//     it, so every id is invited, with a reason saying the outcome is not
//     verified and an empty CompletionStatus; except the ids the lookup
//     showed without an email address: nothing says ISC could mail them,
//     so they are failed (permanent, not sent again by inviter itself).
func (in *Inviter) settle(ctx context.Context, ts TaskStatus, batch []string, res map[string]*inviter.Result, known map[string]inviter.Identity) {
	for _, id := range batch {
		res[id].TaskID = ts.ID
	}
	var readErr error
	if ts.CompletionStatus == nil && ts.ID != "" {
		ts, readErr = in.awaitTask(ctx, ts)
	}
	if ts.CompletionStatus == nil {
		reason := "ISC accepted the invitation; its answer named no task, so what ISC did is not verified"
		if ts.ID != "" {
			reason = fmt.Sprintf("ISC accepted the invitation (task %s); the task had not completed after %s, so what ISC did is not verified", ts.ID, in.cfg.TaskWait)
			if readErr != nil {
				reason = fmt.Sprintf("ISC accepted the invitation (task %s); its status could not be read (%v), so what ISC did is not verified", ts.ID, readErr)
			}
		}
		for _, id := range batch {
			if f, ok := known[id]; ok && strings.TrimSpace(f.Email) == "" {
				// Nothing says ISC mailed it, and the lookup says there
				// was no address to mail: not taken as invited.
				setOutcome(res[id], inviter.OutcomeFailed, reasonNoEmailUnverified+" ("+reason+")",
					&PermanentError{Endpoint: "task " + ts.ID, Status: http.StatusOK, Message: "no email address listed; the task's outcome was not read"})
				continue
			}
			setOutcome(res[id], inviter.OutcomeInvited, reason, nil)
		}
		return
	}
	status := strings.ToUpper(*ts.CompletionStatus)
	named := make(map[string]TaskStatusMessage)
	var unmatched []string
	var unmatchedErrors []TaskStatusMessage
	unmatchedWarnings := 0
	for _, m := range ts.Messages {
		typ := strings.ToUpper(m.Type)
		if typ != "WARN" && typ != "WARNING" && typ != "ERROR" {
			continue
		}
		hit := false
		for _, id := range batch {
			if bytes.Contains(m.Raw, []byte(id)) {
				if prev, ok := named[id]; !ok || strings.ToUpper(prev.Type) != "ERROR" {
					named[id] = m
				}
				hit = true
			}
		}
		if !hit {
			unmatched = append(unmatched, messageText(m))
			if typ == "ERROR" {
				unmatchedErrors = append(unmatchedErrors, m)
			} else {
				unmatchedWarnings++
			}
		}
	}
	if len(unmatchedErrors) > 0 && unmatchedWarnings == 0 && known != nil {
		var noEmail []string
		for _, id := range batch {
			if f, ok := known[id]; ok && f.Email == "" {
				if _, isNamed := named[id]; !isNamed {
					noEmail = append(noEmail, id)
				}
			}
		}
		if len(noEmail) == len(unmatchedErrors) {
			for i, id := range noEmail {
				m := unmatchedErrors[i]
				m.Text = messageText(m) + " (ISC lists this identity without an email address)"
				named[id] = m
			}
			unmatched = nil
		}
	}
	sure := status == taskSuccess || ((status == taskWarning || status == taskError) && len(unmatched) == 0 && len(named) > 0)
	for _, id := range batch {
		r := res[id]
		r.CompletionStatus = status
		if m, ok := named[id]; ok {
			text := messageText(m)
			if strings.EqualFold(m.Type, "ERROR") {
				setOutcome(r, inviter.OutcomeFailed, "ISC could not invite this identity: "+text,
					&PermanentError{Endpoint: "task " + ts.ID, Status: http.StatusOK, Message: text})
			} else {
				setOutcome(r, inviter.OutcomeNotFound, "ISC skipped this identity: "+text,
					&PermanentError{Endpoint: "task " + ts.ID, Status: http.StatusNotFound, Message: text})
			}
			continue
		}
		if sure {
			setOutcome(r, inviter.OutcomeInvited, "", nil)
			continue
		}
		what := "no messages"
		if len(unmatched) > 0 {
			what = "messages that name no identity of the call: " + strings.Join(unmatched, "; ")
		}
		msg := fmt.Sprintf("ISC's invite task %s ended %s with %s; whether ISC mailed this identity is unknown, so inviter does not send it again (check the task before retrying by hand)", ts.ID, status, what)
		setOutcome(r, inviter.OutcomeFailed, msg, &PermanentError{Endpoint: "task " + ts.ID, Status: http.StatusOK, Message: msg})
	}
}

// messageText is a message's text for people: its localized text, else
// its key.
func messageText(m TaskStatusMessage) string {
	if m.Text != "" {
		return m.Text
	}
	if m.Key != "" {
		return m.Key
	}
	return string(m.Raw)
}

// awaitTask reads the task until it completes, TaskWait passes, the
// call's deadline nears or ISC refuses the read. It returns the last
// status read (CompletionStatus nil if it never completed) and the last
// read error, if any.
func (in *Inviter) awaitTask(ctx context.Context, ts TaskStatus) (TaskStatus, error) {
	deadline := time.Now().Add(in.cfg.TaskWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-time.Second).Before(deadline) {
		deadline = d.Add(-time.Second) // leave time to record the outcome
	}
	var lastErr error
	wait := in.cfg.TaskPoll
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return ts, lastErr
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return ts, lastErr
		case <-t.C:
		}
		st, err := in.c.TaskStatus(ctx, ts.ID)
		if err == nil && st.CompletionStatus != nil {
			return st, nil
		}
		if err != nil {
			lastErr = err
			// Inferred: a task may not be readable at once after the 202
			// (SailPoint does not say), so a 404 is read again like a
			// transient error; a refusal (401, 403, …) is not.
			if _, limited := RetryAfter(err); !limited && !IsTransient(err) && !IsNotFound(err) {
				return ts, err
			}
		}
		wait *= 2
	}
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
	var invitable []string // identity ids to send
	var send []string      // their cc short ids
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
			setOutcome(r, inviter.OutcomeSkipped, reason+" (the /cc list)", nil)
		case e.Email == "":
			// The /cc invite's answer says nothing of each user, so ISC's
			// silence about this one would be recorded as an invitation.
			r.CCID = e.CCID
			setOutcome(r, inviter.OutcomeFailed, reasonNoEmail,
				&PermanentError{Endpoint: "GET /cc/api/user/list", Status: http.StatusOK, Message: "the list shows no email address for this identity"})
		default:
			r.CCID = e.CCID
			invitable = append(invitable, id)
		}
	}
	invitable = in.holdSharedAddresses(invitable, res, func(id string) mailCandidate {
		return mailCandidate{id: id, addr: found[id].Email, ccID: found[id].CCID}
	}, ccBefore, "GET /cc/api/user/list")
	for _, id := range invitable {
		cc := found[id].CCID
		send = append(send, cc)
		byCC[cc] = id
	}
	for batch := range slices.Chunk(send, in.cfg.BatchSize) {
		in.sendCC(ctx, batch, byCC, res)
	}
}

// reasonNoEmailUnverified is the reason of an identity the lookup listed
// without an email address whose invite task was not read to its end.
const reasonNoEmailUnverified = "ISC lists no email address for this identity and what its invite task did was not verified, so it is not taken as invited and not sent again: set its work email (or the identity profile's Invitation Options) and retry with inviter jobs retry"

// reasonNoEmail is the reason of an identity the /cc list shows without an
// email address: it is not sent.
const reasonNoEmail = "ISC lists no email address for this identity, so there is nothing to mail: set its work email (or the identity profile's Invitation Options) and retry with inviter jobs retry"

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

// httpStatus is the HTTP status of a PermanentError; 0 for other errors.
func httpStatus(err error) int {
	var p *PermanentError
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
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
		if r.TaskID != "" && r.Reason != "" {
			return fmt.Sprintf("invited (task %s): %s", r.TaskID, r.Reason)
		}
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
