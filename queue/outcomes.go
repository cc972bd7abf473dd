package queue

import (
	"context"
	"sync"
	"time"

	"github.com/inviter/inviter/store"
)

// outcomeKey names one invite job's work: an identity and a round.
type outcomeKey struct {
	id    string
	round int
}

// unrecorded holds the invitations ISC accepted whose outcome the database
// did not take (disk full, database gone). The job that sent one writes it
// on its next run instead of calling ISC again; Stop tries once more.
type unrecorded struct {
	mu sync.Mutex
	m  map[outcomeKey]store.Decision
}

// put holds d under k and reports whether k is new.
func (u *unrecorded) put(k outcomeKey, d store.Decision) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[outcomeKey]store.Decision{}
	}
	_, had := u.m[k]
	u.m[k] = d
	return !had
}

func (u *unrecorded) get(k outcomeKey) (store.Decision, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.m[k]
	return d, ok
}

// remove drops k and reports whether it was held.
func (u *unrecorded) remove(k outcomeKey) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.m[k]
	delete(u.m, k)
	return ok
}

func (u *unrecorded) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.m)
}

func (u *unrecorded) all() map[outcomeKey]store.Decision {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[outcomeKey]store.Decision, len(u.m))
	for k, d := range u.m {
		out[k] = d
	}
	return out
}

// flushUnrecorded writes every held outcome it can and logs, at ERROR, the
// identities whose accepted invitation is still not recorded (a later job
// for them would mail them again).
func (q *Queue) flushUnrecorded(ctx context.Context) {
	held := q.unrecorded.all()
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for k, d := range held {
		d.Reason = joinReason(d.Reason, "recorded late, from memory")
		if err := q.write(ctx, d); err != nil {
			q.logger.ErrorContext(ctx, "ISC accepted this invitation but its outcome could not be recorded before exit; the identity may be invited again",
				"identity_id", d.IdentityID, "task_id", d.TaskID, "at", d.At, "error", err)
			continue
		}
		q.unrecorded.remove(k)
	}
	q.m.UnrecordedOutcomes.Set(float64(q.unrecorded.len()))
}

// configProblem is the current refusal of inviter's own configuration by
// ISC, if any.
type configProblem struct {
	mu    sync.Mutex
	text  string
	since time.Time
}

// setConfigProblem records err as the current configuration problem; a
// new or changed problem is logged at ERROR, once.
func (q *Queue) setConfigProblem(err error) {
	text := err.Error()
	p := &q.problem
	p.mu.Lock()
	changed := p.text != text
	if changed {
		if p.text == "" {
			p.since = time.Now()
		}
		p.text = text
	}
	p.mu.Unlock()
	if changed {
		q.m.ISCConfigProblem.Set(1)
		q.logger.Error("ISC refuses inviter's configuration: invites wait until it is fixed (check SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET and the token's rights)",
			"error", text)
	}
}

// configOK clears the configuration problem after ISC accepted a call.
func (q *Queue) configOK() {
	p := &q.problem
	p.mu.Lock()
	was, since := p.text, p.since
	p.text, p.since = "", time.Time{}
	p.mu.Unlock()
	if was != "" {
		q.m.ISCConfigProblem.Set(0)
		q.logger.Info("ISC accepts inviter's configuration again; waiting invites resume", "was", was, "lasted", time.Since(since).Round(time.Second))
	}
}

// ConfigProblem returns the current configuration problem, as the status
// page shows it ("" when there is none), and since when it lasts. It is
// set when ISC refuses inviter's own credentials, rights or base URL
// (inviter.IsConfigProblem) and cleared by the next call ISC accepts.
func (q *Queue) ConfigProblem() (text string, since time.Time) {
	p := &q.problem
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text, p.since
}
