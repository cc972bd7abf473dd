package isctest

import (
	"net/http"
	"slices"
	"strings"
)

// Scopes of ISC's API that the fake's endpoints require, as the specs list
// them in each operation's security (beta, v2025 and v3).
const (
	// ScopeAll is the scope of a token with every right (a personal
	// access token of an ORG_ADMIN reads "sp:scopes:all").
	ScopeAll = "sp:scopes:all"
	// ScopeInvite is needed by POST /…/identities/invite.
	ScopeInvite = "idn:password-user-invite:manage"
	// ScopeIdentityRead is needed by GET /…/identities and
	// /…/identities/{id} (idn:identity:manage also does).
	ScopeIdentityRead = "idn:identity:read"
	// ScopeIdentityManage also allows the identity reads.
	ScopeIdentityManage = "idn:identity:manage"
	// ScopeTaskRead is needed by GET /…/task-status/{id}
	// (idn:task-management:write also does).
	ScopeTaskRead = "idn:task-management:read"
	// ScopeTaskWrite also allows the task-status read.
	ScopeTaskWrite = "idn:task-management:write"
	// ScopeSearch is needed by POST /v3/search and /v2025/search.
	ScopeSearch = "sp:search:read"
	// ScopeSubscriptions is needed by the trigger-subscriptions calls
	// (GET also accepts sp:trigger-service-subscriptions:read).
	ScopeSubscriptions = "sp:trigger-service-subscriptions:manage"
	// ScopeSubscriptionsRead allows listing and reading subscriptions.
	ScopeSubscriptionsRead = "sp:trigger-service-subscriptions:read"
	// ScopeTestInvocation is needed by POST /beta/trigger-invocations/test.
	ScopeTestInvocation = "sp:trigger-service-invocation-status:manage"
)

// requiredScopes returns the scopes of which a token needs one to call the
// route pattern endpoint ("GET /v2025/identities/{id}"); nil means any
// token will do.
//
// Inferred: the specs list several scopes per operation; ISC accepts a
// token with any one of them (not all), as SailPoint's docs on scopes
// describe the lists as alternatives.
func requiredScopes(endpoint string) []string {
	method, path, _ := strings.Cut(endpoint, " ")
	switch {
	case strings.HasSuffix(path, "/identities/invite") || path == "/identities/v1/invite":
		return []string{ScopeInvite}
	case strings.Contains(path, "/task-status/") || strings.HasPrefix(path, "/task-status/"):
		return []string{ScopeTaskRead, ScopeTaskWrite}
	case strings.HasSuffix(path, "/search"):
		return []string{ScopeSearch}
	case strings.Contains(path, "/trigger-subscriptions"):
		if method == http.MethodGet {
			return []string{ScopeSubscriptionsRead, ScopeSubscriptions}
		}
		return []string{ScopeSubscriptions}
	case strings.Contains(path, "/trigger-invocations/test"):
		return []string{ScopeTestInvocation}
	case strings.Contains(path, "/identities"):
		return []string{ScopeIdentityRead, ScopeIdentityManage}
	}
	return nil
}

// authorized reports whether tok may call endpoint. A token of every right
// (nil scopes, or sp:scopes:all among them) may call everything; the /cc
// paths need such a token unless Options.CCIgnoresScopes.
func (s *Server) authorized(tok token, method, endpoint string) bool {
	if tok.scopes == nil || slices.Contains(tok.scopes, ScopeAll) {
		return true
	}
	if strings.HasPrefix(strings.TrimPrefix(endpoint, method+" "), "/cc/") {
		return s.opts.CCIgnoresScopes
	}
	need := requiredScopes(endpoint)
	if need == nil {
		return true
	}
	for _, sc := range need {
		if slices.Contains(tok.scopes, sc) {
			return true
		}
	}
	return false
}

// writeForbidden answers 403, as the specs' 403 example words it.
func writeForbidden(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, detail403, "The server understood the request but refuses to authorize it.")
}

// writeCCRemoved answers a /cc path of a tenant whose /cc API is retired.
//
// Inferred: SailPoint announced the end of life of the /cc API without
// saying what its paths answer afterwards; 404 (no route, as for any
// unknown path) and 410 Gone are both plausible. The answer comes from the
// gateway, before authentication.
func writeCCRemoved(w http.ResponseWriter, status int) {
	if status == http.StatusGone {
		writeError(w, http.StatusGone, "410 Gone", "This API has been retired.")
		return
	}
	writeError(w, http.StatusNotFound, detail404, "The server did not find a current representation for the target resource.")
}

// writeURITooLong answers 414 from the gateway.
//
// Inferred: SailPoint does not document a limit; load balancers commonly
// refuse request lines over 8 KB with an HTML page.
func writeURITooLong(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusRequestURITooLong)
	_, _ = w.Write([]byte("<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n<center><h1>414 Request-URI Too Large</h1></center>\r\n</body>\r\n</html>\r\n"))
}
