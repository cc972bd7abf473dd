package isctest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AdminPrefix is the path prefix of the fake tenant's own admin endpoints,
// which drive it from outside (another terminal, a child process). They
// are not part of ISC's API: they need no token, are not counted in Calls,
// and meet no faults, outage or rate limit.
//
//	POST   /isctest/identities  create identities: {"count":N} or a JSON
//	                            list of NewIdentityJSON; ?count=N with no body
//	GET    /isctest/invites     the invitations sent, oldest first
//	PUT    /isctest/faults      replace the faults (Faults as JSON)
//	POST   /isctest/outage      {"mode":"errors"|"refused","for":"30s"}
//	DELETE /isctest/outage      end the outage
const AdminPrefix = "/isctest/"

// NewIdentityJSON is one identity to create through POST /isctest/identities.
type NewIdentityJSON struct {
	// Count creates that many identities from this template (default 1);
	// a Name gets " 1", " 2"… appended, an Email is shared by all.
	Count        int    `json:"count,omitempty"`
	Name         string `json:"name,omitempty"`
	Email        string `json:"email,omitempty"`
	Department   string `json:"department,omitempty"`
	Status       string `json:"status,omitempty"`
	Registered   bool   `json:"registered,omitempty"`
	NoEmail      bool   `json:"noEmail,omitempty"`
	Uncorrelated bool   `json:"uncorrelated,omitempty"`
	// VisibleAfter is a Go duration ("2s") replacing the visibility delay.
	VisibleAfter string `json:"visibleAfter,omitempty"`
}

// createdJSON is an identity in the admin endpoint's answer.
type createdJSON struct {
	ID     string `json:"id"`
	CCID   string `json:"ccId"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

func (s *Server) adminRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /isctest/identities", s.handleAdminIdentities)
	mux.HandleFunc("GET /isctest/invites", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Invites())
	})
	mux.HandleFunc("PUT /isctest/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !decodeJSON(w, r, &f) {
			return
		}
		s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /isctest/outage", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Mode string `json:"mode"`
			For  string `json:"for"`
		}
		if !decodeJSON(w, r, &in) {
			return
		}
		mode, err := ParseOutageMode(in.Mode)
		if err != nil {
			badRequest(w, "%v", err)
			return
		}
		var d time.Duration
		if in.For != "" {
			if d, err = time.ParseDuration(in.For); err != nil {
				badRequest(w, "for: %v", err)
				return
			}
		}
		s.Outage(mode, d)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /isctest/outage", func(w http.ResponseWriter, r *http.Request) {
		s.EndOutage()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "No admin endpoint %s %s.", r.Method, r.URL.Path)
	})
	return mux
}

// ParseOutageMode reads an OutageMode: "errors" or "refused".
func ParseOutageMode(s string) (OutageMode, error) {
	switch s {
	case "errors":
		return OutageErrors, nil
	case "refused":
		return OutageRefused, nil
	}
	return 0, fmt.Errorf("unknown outage mode %q (want errors or refused)", s)
}

// adminMaxCreate bounds one admin request.
const adminMaxCreate = 100000

func (s *Server) handleAdminIdentities(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
	if err != nil {
		badRequest(w, "The request body could not be read: %v", err)
		return
	}
	var items []NewIdentityJSON
	switch body := strings.TrimSpace(string(data)); {
	case body == "":
		n, err := strconv.Atoi(r.URL.Query().Get("count"))
		if err != nil || n < 1 {
			badRequest(w, "Give a JSON body, or ?count=N with N ≥ 1.")
			return
		}
		items = []NewIdentityJSON{{Count: n}}
	case strings.HasPrefix(body, "["):
		if err := json.Unmarshal(data, &items); err != nil {
			badRequest(w, "The request body could not be read: %v", err)
			return
		}
	default:
		var one NewIdentityJSON
		if err := json.Unmarshal(data, &one); err != nil {
			badRequest(w, "The request body could not be read: %v", err)
			return
		}
		items = []NewIdentityJSON{one}
	}
	var todo []NewIdentity
	for i, it := range items {
		n := max(it.Count, 1)
		if it.Status != "" && !validStatus(it.Status) {
			badRequest(w, "Item %d: unknown status %q (want one of %s).", i, it.Status, strings.Join(IdentityStatuses, ", "))
			return
		}
		var vis time.Duration
		if it.VisibleAfter != "" {
			if vis, err = time.ParseDuration(it.VisibleAfter); err != nil {
				badRequest(w, "Item %d: visibleAfter: %v", i, err)
				return
			}
		}
		if len(todo)+n > adminMaxCreate {
			badRequest(w, "At most %d identities per request.", adminMaxCreate)
			return
		}
		now := s.now()
		for k := range n {
			name := it.Name
			if name != "" && n > 1 {
				name = fmt.Sprintf("%s %d", name, k+1)
			}
			// The email stays the same across Count: that is how to
			// make identities that share an address. They are created
			// one millisecond apart (ISC's times are in milliseconds), so
			// the first created is told by its created time.
			var created time.Time
			if it.Email != "" && n > 1 {
				created = now.Add(-time.Duration(n-1-k) * time.Millisecond)
			}
			todo = append(todo, NewIdentity{
				Name: name, Email: it.Email, Department: it.Department, Status: it.Status,
				Registered: it.Registered, NoEmail: it.NoEmail, Uncorrelated: it.Uncorrelated, VisibleAfter: vis,
				Created: created,
			})
		}
	}
	out := make([]createdJSON, 0, len(todo))
	for _, ni := range todo {
		id := s.CreateIdentity(ni)
		out = append(out, createdJSON{ID: id.ID, CCID: id.CCID, Name: id.Name, Email: id.Email, Status: id.Status})
	}
	writeJSON(w, http.StatusCreated, out)
}

// SubscriptionCreated returns a channel closed once the first trigger
// subscription has been created (and at once if one has been).
func (s *Server) SubscriptionCreated() <-chan struct{} { return s.firstSub }
