package isctest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// uninvitedLimit is the documented cap of {"uninvited":true}.
const uninvitedLimit = 1000

// taskStatus is ISC's TaskStatus schema, every required field present.
type taskStatus struct {
	ID               string         `json:"id"`
	Type             string         `json:"type"`
	UniqueName       string         `json:"uniqueName"`
	Description      string         `json:"description"`
	ParentName       *string        `json:"parentName"`
	Launcher         string         `json:"launcher"`
	Target           *struct{}      `json:"target"`
	Created          string         `json:"created"`
	Modified         string         `json:"modified"`
	Launched         string         `json:"launched"`
	Completed        *string        `json:"completed"`
	CompletionStatus *string        `json:"completionStatus"`
	Messages         []taskMessage  `json:"messages"`
	Returns          []struct{}     `json:"returns"`
	Attributes       map[string]any `json:"attributes"`
	Progress         string         `json:"progress"`
	PercentComplete  int            `json:"percentComplete"`
}

// taskMessage is ISC's TaskStatusMessage.
type taskMessage struct {
	Type          string           `json:"type"`
	LocalizedText localizedMessage `json:"localizedText"`
	Key           string           `json:"key"`
	Parameters    []map[string]any `json:"parameters"`
}

// localizedMessage is ISC's LocalizedMessage.
type localizedMessage struct {
	Locale  string `json:"locale"`
	Message string `json:"message"`
}

// Keys of the invite task's messages.
//
// Inferred: ISC documents TaskStatusMessage but not the keys or texts of
// the invite task; these name what happened, and each message's
// parameters hold {"id": identity id}.
const (
	// MessageKeyNotFound is the key of a WARN message for an id the task
	// skipped as unknown or not visible yet (Options.UnknownIDs skip).
	MessageKeyNotFound = "idn.identity.invite.notFound"
	// MessageKeyNoEmail is the key of an ERROR message for an identity the
	// task could not mail because it has no email address.
	MessageKeyNoEmail = "idn.identity.invite.noEmail"
)

// task is an invite task: its final state, and when it reaches it.
type task struct {
	final    taskStatus
	doneAt   time.Time
	readable time.Time // GET task-status answers 404 before this
}

// status renders the task as it is at now: pending until doneAt.
func (t *task) status(now time.Time) taskStatus {
	if !now.Before(t.doneAt) {
		return t.final
	}
	out := t.final
	out.Completed = nil
	out.CompletionStatus = nil
	out.Modified = out.Launched
	out.Messages = []taskMessage{}
	out.Progress = "Started"
	out.PercentComplete = 0
	return out
}

// taskMessage returns a message about the identity id. With
// Options.TaskMessagesWithoutIDs the message names no identity: its text
// is generic and its parameters null.
func (s *Server) taskMessage(typ, key, id, format string, args ...any) taskMessage {
	if s.opts.TaskMessagesWithoutIDs {
		text := "An identity was not found; no invitation was sent to it."
		if key == MessageKeyNoEmail {
			text = "An identity has no email address; the invitation could not be sent."
		}
		return taskMessage{Type: typ, LocalizedText: localizedMessage{Locale: "en-US", Message: text}, Key: key}
	}
	return taskMessage{
		Type:          typ,
		LocalizedText: localizedMessage{Locale: "en-US", Message: fmt.Sprintf(format, args...)},
		Key:           key,
		Parameters:    []map[string]any{{"id": id}},
	}
}

type inviteRequest struct {
	IDs       []string `json:"ids"`
	Uninvited bool     `json:"uninvited"`
}

// handleInvite answers POST /beta/identities/invite and its versioned
// copies, which need the header X-SailPoint-Experimental: true.
//
// Inferred: by default the whole call is refused with 400 naming the id
// when an id is unknown or not visible yet (Options.UnknownIDs selects the
// other behaviour); duplicate ids are mailed once; when both ids and
// uninvited are given, ids win (the spec says uninvited "makes sense only
// when ids is empty"). By default the task runs at once: the 202 already
// reports its completionStatus (Options.AsyncTasks delays it), and
// attributes.identityCount is the number of distinct identities the call
// named and the tenant found.
func (s *Server) handleInvite(experimental bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.canInvite(clientFrom(r)) {
			writeForbidden(w)
			return
		}
		if experimental && !strings.EqualFold(r.Header.Get("X-SailPoint-Experimental"), "true") {
			// Inferred: the wording of ISC's answer.
			badRequest(w, "This API is experimental: set the header X-SailPoint-Experimental: true to use it.")
			return
		}
		var req inviteRequest
		if !decodeJSON(w, r, &req) {
			return
		}
		if len(req.IDs) > s.opts.MaxInviteIDs {
			badRequest(w, "Too many identities: %d ids given, at most %d are allowed per call.", len(req.IDs), s.opts.MaxInviteIDs)
			return
		}
		if len(req.IDs) == 0 && !req.Uninvited {
			badRequest(w, "Either ids or uninvited must be given.")
			return
		}

		task, unknown, ok := s.invitePublic(req, clientFrom(r))
		if !ok {
			badRequest(w, "Identity %q was not found.", unknown)
			return
		}
		writeJSON(w, http.StatusAccepted, task)
	})
}

// invitePublic runs an invite task: it mails the mailable identities among
// those req names and keeps the task for lookup. It reports false, with
// the id, when an id is unknown or not visible yet and Options.UnknownIDs
// rejects the call.
func (s *Server) invitePublic(req inviteRequest, clientID string) (out taskStatus, unknown string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var targets []*identity
	var messages []taskMessage
	if len(req.IDs) > 0 {
		seen := make(map[string]bool, len(req.IDs))
		for _, raw := range req.IDs {
			if seen[raw] {
				continue
			}
			seen[raw] = true
			id, ok := s.byID[raw]
			if !ok || !id.visible(now) {
				if s.opts.UnknownIDs != UnknownIDsSkip {
					return taskStatus{}, raw, false
				}
				messages = append(messages, s.taskMessage("WARN", MessageKeyNotFound, raw, "Identity %s was not found; no invitation was sent to it.", raw))
				continue
			}
			targets = append(targets, id)
		}
	} else {
		for _, id := range s.visibleLocked() {
			if len(targets) == uninvitedLimit {
				break
			}
			if !id.registered() {
				targets = append(targets, id)
			}
		}
	}
	t := &task{
		final: taskStatus{
			ID:              newHexID(),
			Type:            "QUARTZ",
			UniqueName:      "Invite Identities",
			Description:     "Invite identities to register",
			Launcher:        clientID,
			Created:         isoTime(now),
			Launched:        isoTime(now),
			Returns:         []struct{}{},
			Attributes:      map[string]any{"identityCount": len(targets)},
			Progress:        "Completed",
			PercentComplete: 100,
		},
		doneAt:   now,
		readable: now.Add(s.opts.TaskReadDelay),
	}
	if s.opts.AsyncTasks {
		t.doneAt = now.Add(s.opts.TaskDelay)
	}
	for _, id := range s.recordInvitesLocked(targets, "public", t.final.ID, now) {
		messages = append(messages, s.taskMessage("ERROR", MessageKeyNoEmail, id.ID, "Identity %s (%s) has no email address; the invitation could not be sent.", id.ID, id.Name))
	}
	status := "SUCCESS"
	for _, m := range messages {
		switch {
		case m.Type == "ERROR":
			status = "ERROR"
		case m.Type == "WARN" && status == "SUCCESS":
			status = "WARNING"
		}
	}
	done := isoTime(t.doneAt)
	t.final.Modified = done
	t.final.Completed = &done
	t.final.CompletionStatus = &status
	t.final.Messages = append([]taskMessage{}, messages...)
	s.tasks[t.final.ID] = t
	return t.status(now), "", true
}

// handleTaskStatus answers GET /{beta,v2024,v2025}/task-status/{id}.
func (s *Server) handleTaskStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t, ok := s.tasks[r.PathValue("id")]
		var out taskStatus
		if ok && s.now().Before(t.readable) {
			ok = false
		}
		if ok {
			out = t.status(s.now())
		}
		s.mu.Unlock()
		if !ok {
			notFound(w, "TaskStatus with the given id was not found.")
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// ccUser is an item of /cc/api/user/list.
type ccUser struct {
	ID                string  `json:"id"`
	Name              string  `json:"name"`
	DisplayName       string  `json:"displayName"`
	Alias             string  `json:"alias"`
	Email             string  `json:"email"`
	Status            string  `json:"status"`
	Enabled           bool    `json:"enabled"`
	Pending           bool    `json:"pending"`
	ExternalID        string  `json:"externalId"`
	ProcessingDetails *string `json:"processingDetails"`
}

// handleCCUserList answers GET /cc/api/user/list?start=&limit=.
//
// Inferred: items come in Options.CCOrder, creation order by default
// (stable, so offset paging works);
// a missing, zero or negative limit means 250 and a larger one is capped
// at 250; a start that is not a number or negative is refused with 400;
// displayName is the alias, as the forum thread's example shows.
func (s *Server) handleCCUserList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, limit := 0, 250
		if v := q.Get("start"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				badRequest(w, "Invalid start %q.", v)
				return
			}
			start = n
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				badRequest(w, "Invalid limit %q.", v)
				return
			}
			if n > 0 {
				limit = min(n, 250)
			}
		}
		s.mu.Lock()
		visible := s.ccListLocked()
		items := make([]ccUser, 0, limit)
		for _, id := range page(visible, limit, start) {
			items = append(items, ccUser{
				ID:          id.CCID,
				Name:        id.Name,
				DisplayName: id.Alias,
				Alias:       id.Alias,
				Email:       id.Email,
				Status:      id.Status,
				Enabled:     true,
				ExternalID:  id.ID,
			})
		}
		total := len(visible)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
	})
}

// ccListLocked returns the visible identities in the /cc list's order.
func (s *Server) ccListLocked() []*identity { return s.orderedLocked(s.opts.CCOrder) }

// orderedLocked returns the identities the lists show (visible, and past
// Options.ListDelay), in order.
func (s *Server) orderedLocked(order CCOrder) []*identity {
	now := s.now().Add(-s.opts.ListDelay)
	if c := s.ordered[order]; c != nil && c.gen == s.listGen && (c.until.IsZero() || now.Before(c.until)) {
		return c.list
	}
	list := s.identities
	if order == CCOrderName {
		list = s.byName
	}
	c := &orderedList{gen: s.listGen, list: make([]*identity, 0, len(list))}
	for _, id := range list {
		if id.visible(now) {
			c.list = append(c.list, id)
		} else if c.until.IsZero() || id.VisibleAt.Before(c.until) {
			c.until = id.VisibleAt
		}
	}
	if order == CCOrderNewestFirst {
		slices.Reverse(c.list)
	}
	if s.ordered == nil {
		s.ordered = make(map[CCOrder]*orderedList)
	}
	s.ordered[order] = c
	return c.list
}

// orderedList is one list order's visible identities, kept while no
// identity is added and none becomes visible (until): every page of a
// large /cc list is then a slice of it, not a new scan. Callers must not
// modify it.
type orderedList struct {
	gen   int
	until time.Time // the earliest VisibleAt of an identity not yet shown; zero: none
	list  []*identity
}

// handleCCInvite answers POST /cc/api/user/invite, a form with a repeated
// field ids of cc short ids.
//
// Inferred: an unknown (or not yet visible) short id refuses the whole
// call with 400, no ids at all is 400, and success is 200 with {}.
func (s *Server) handleCCInvite() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			badRequest(w, "The request body could not be read: %v", err)
			return
		}
		ids := r.PostForm["ids"]
		if len(ids) == 0 {
			badRequest(w, "No ids given.")
			return
		}
		if unknown, ok := s.inviteCC(ids); !ok {
			badRequest(w, "User %q was not found.", unknown)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
}

// inviteCC mails the unregistered identities among the cc short ids. It
// reports false, with the id, when a short id is unknown or not visible yet.
func (s *Server) inviteCC(ids []string) (unknown string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var targets []*identity
	seen := make(map[string]bool, len(ids))
	for _, raw := range ids {
		id, ok := s.byCCID[raw]
		if !ok || !id.visible(now) {
			return raw, false
		}
		if !seen[raw] {
			seen[raw] = true
			targets = append(targets, id)
		}
	}
	s.recordInvitesLocked(targets, "cc", "", now)
	return "", true
}
