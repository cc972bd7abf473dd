package isctest

import (
	"net/http"
	"strconv"
	"strings"
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
	Completed        string         `json:"completed"`
	CompletionStatus string         `json:"completionStatus"`
	Messages         []struct{}     `json:"messages"`
	Returns          []struct{}     `json:"returns"`
	Attributes       map[string]any `json:"attributes"`
	Progress         string         `json:"progress"`
	PercentComplete  int            `json:"percentComplete"`
}

type inviteRequest struct {
	IDs       []string `json:"ids"`
	Uninvited bool     `json:"uninvited"`
}

// handleInvite answers POST /beta/identities/invite and its versioned
// copies, which need the header X-SailPoint-Experimental: true.
//
// Inferred: the whole call is refused with 400 naming the id when an id is
// unknown or not visible yet; duplicate ids are mailed once; when both ids
// and uninvited are given, ids win (the spec says uninvited "makes sense
// only when ids is empty"). The task runs at once: the 202 already reports
// SUCCESS, and attributes.identityCount is the number of distinct
// identities the call named.
func (s *Server) handleInvite(experimental bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.canInvite(clientFrom(r)) {
			// As the specs' 403 example words it.
			writeError(w, http.StatusForbidden, detail403, "The server understood the request but refuses to authorize it.")
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

// invitePublic runs an invite task: it mails the unregistered identities
// among those req names and keeps the task for lookup. It reports false,
// with the id, when an id is unknown or not visible yet.
func (s *Server) invitePublic(req inviteRequest, clientID string) (task taskStatus, unknown string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var targets []*identity
	if len(req.IDs) > 0 {
		seen := make(map[string]bool, len(req.IDs))
		for _, raw := range req.IDs {
			id, ok := s.byID[raw]
			if !ok || !id.visible(now) {
				return taskStatus{}, raw, false
			}
			if !seen[raw] {
				seen[raw] = true
				targets = append(targets, id)
			}
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
	task = taskStatus{
		ID:               newHexID(),
		Type:             "QUARTZ",
		UniqueName:       "Invite Identities",
		Description:      "Invite identities to register",
		Launcher:         clientID,
		Created:          isoTime(now),
		Modified:         isoTime(now),
		Launched:         isoTime(now),
		Completed:        isoTime(now),
		CompletionStatus: "SUCCESS",
		Messages:         []struct{}{},
		Returns:          []struct{}{},
		Attributes:       map[string]any{"identityCount": len(targets)},
		Progress:         "Completed",
		PercentComplete:  100,
	}
	s.recordInvitesLocked(targets, "public", task.ID, now)
	s.tasks[task.ID] = task
	return task, "", true
}

// handleTaskStatus answers GET /beta/task-status/{id}.
func (s *Server) handleTaskStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		task, ok := s.tasks[r.PathValue("id")]
		s.mu.Unlock()
		if !ok {
			notFound(w, "TaskStatus with the given id was not found.")
			return
		}
		writeJSON(w, http.StatusOK, task)
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
// Inferred: items come in creation order (stable, so offset paging works);
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
		visible := s.visibleLocked()
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
