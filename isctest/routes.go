package isctest

import "net/http"

// routes lists every route of the fake API. Versioned copies are listed
// one by one so that the matched pattern is the Call's Endpoint.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/token", s.handleToken())

	mux.Handle("POST /beta/identities/invite", s.handleInvite(false))
	for _, v := range []string{"v2024", "v2025", "v2026"} {
		mux.Handle("POST /"+v+"/identities/invite", s.handleInvite(true))
	}
	for _, v := range []string{"beta", "v2024", "v2025"} {
		mux.Handle("GET /"+v+"/task-status/{id}", s.handleTaskStatus())
	}
	for _, v := range []string{"beta", "v2024", "v2025"} {
		mux.Handle("GET /"+v+"/identities", s.handleListIdentities())
		mux.Handle("GET /"+v+"/identities/{id}", s.handleGetIdentity())
	}

	mux.Handle("POST /v3/search", s.handleSearch())
	mux.Handle("POST /v2025/search", s.handleSearch())

	if s.opts.ServiceVersioned {
		// Inferred: SailPoint's versioning page describes per-service
		// paths (/service/v1/action, "an endpoint to list identities
		// would be accessible at a path like /identities/v1/"), but the
		// published specs do not yet document them; these paths follow
		// that pattern with the v2025 behaviour, experimental header
		// not required.
		mux.Handle("POST /identities/v1/invite", s.handleInvite(false))
		mux.Handle("GET /identities/v1", s.handleListIdentities())
		mux.Handle("GET /identities/v1/{$}", s.handleListIdentities())
		mux.Handle("GET /identities/v1/{id}", s.handleGetIdentity())
		mux.Handle("GET /task-status/v1/{id}", s.handleTaskStatus())
	}

	mux.Handle("GET /cc/api/user/list", s.handleCCUserList())
	mux.Handle("POST /cc/api/user/invite", s.handleCCInvite())

	mux.Handle("POST /beta/trigger-subscriptions", s.handleCreateSubscription())
	mux.Handle("GET /beta/trigger-subscriptions", s.handleListSubscriptions())
	mux.Handle("GET /beta/trigger-subscriptions/{id}", s.handleGetSubscription())
	mux.Handle("PUT /beta/trigger-subscriptions/{id}", s.handlePutSubscription())
	mux.Handle("PATCH /beta/trigger-subscriptions/{id}", s.handlePatchSubscription())
	mux.Handle("DELETE /beta/trigger-subscriptions/{id}", s.handleDeleteSubscription())
	mux.Handle("POST /beta/trigger-invocations/test", s.handleTestInvocation())

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, detail404, "The server did not find a current representation for the target resource.")
	}))
	return mux
}

// FoundingRoutes are the documented routes inviter was designed on
// (docs/isc-api.md): the beta invite and task status, the v2025 identity
// reads, the v3 search, the beta trigger subscriptions and the /cc API.
// Options.Routes = FoundingRoutes models a tenant that serves nothing else.
var FoundingRoutes = []string{
	"POST /beta/identities/invite",
	"GET /beta/task-status/{id}",
	"GET /v2025/identities",
	"GET /v2025/identities/{id}",
	"POST /v3/search",
	"POST /beta/trigger-subscriptions",
	"GET /beta/trigger-subscriptions",
	"GET /beta/trigger-subscriptions/{id}",
	"PUT /beta/trigger-subscriptions/{id}",
	"PATCH /beta/trigger-subscriptions/{id}",
	"DELETE /beta/trigger-subscriptions/{id}",
	"POST /beta/trigger-invocations/test",
	"GET /cc/api/user/list",
	"POST /cc/api/user/invite",
}
