package isctest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// token is an issued access token: tied to a client id and an expiry.
type token struct {
	clientID string
	scopes   []string // nil: sp:scopes:all
	expires  time.Time
}

// handleToken answers POST /oauth/token with the client credentials grant.
// Credentials are read from the form body, the query string (as SailPoint's
// own examples send them) or HTTP Basic authentication.
func (s *Server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body")
			return
		}
		id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok && id == "" {
			id, secret = u, p
		}
		// Inferred: like Spring's OAuth2 server, client authentication is
		// checked before the grant type.
		client, ok := s.validClient(id, secret)
		if !ok || s.refuseCredentials() {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Bad credentials")
			return
		}
		switch grant := r.Form.Get("grant_type"); grant {
		case "client_credentials":
		case "":
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing grant type")
			return
		default:
			writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+grant)
			return
		}

		now := s.now()
		jti := newUUID()
		exp := now.Add(s.opts.TokenTTL)
		scopes := client.Scopes
		if scopes == nil {
			scopes = []string{ScopeAll}
		}
		tok := s.newJWT(id, jti, scopes, now, exp)
		s.mu.Lock()
		s.tokens[tok] = token{clientID: id, scopes: client.Scopes, expires: exp}
		s.mu.Unlock()

		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token":          tok,
			"token_type":            "bearer",
			"expires_in":            int(s.opts.TokenTTL / time.Second),
			"scope":                 strings.Join(scopes, " "),
			"tenant_id":             s.tenantID,
			"pod":                   "fake01-useast1",
			"strong_auth_supported": false,
			"org":                   "fake",
			"user_name":             id,
			"strong_auth":           false,
			"jti":                   jti,
		})
	})
}

// validClient returns the client whose credentials id and secret are.
func (s *Server) validClient(id, secret string) (Client, bool) {
	if s.opts.PlainClientID != "" && s.opts.PlainClientSecret != "" &&
		sameCredentials(id, secret, s.opts.PlainClientID, s.opts.PlainClientSecret) {
		return Client{ID: id, Secret: secret}, true
	}
	c, ok := s.clients[id]
	if !ok {
		// Compare anyway, so that an unknown id costs the same time.
		sameCredentials(id, secret, s.opts.ClientID, s.opts.ClientSecret)
		return Client{}, false
	}
	return c, sameCredentials(id, secret, c.ID, c.Secret)
}

func sameCredentials(id, secret, wantID, wantSecret string) bool {
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(wantID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(wantSecret)) == 1
	return okID && okSecret
}

// canInvite reports whether clientID may call the invite API, which needs
// idn:password-user-invite:manage: the user level ORG_ADMIN or HELPDESK
// behind a personal access token.
//
// Inferred: the fake's tokens all read "sp:scopes:all", like a real PAT's;
// a plain API client is told apart by its client id only, and refused on
// the public invite paths alone (the /cc paths are not modelled for it).
func (s *Server) canInvite(clientID string) bool {
	return s.opts.PlainClientID == "" || clientID != s.opts.PlainClientID
}

// newJWT returns a JWT-looking opaque token. Its signature is random, so
// only this tenant's token table gives it meaning.
func (s *Server) newJWT(clientID, jti string, scopes []string, iat, exp time.Time) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"tenant_id": s.tenantID,
		"client_id": clientID,
		"scope":     scopes,
		"iat":       iat.Unix(),
		"exp":       exp.Unix(),
		"jti":       jti,
	})
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(randomBytes(32))
}

// authenticate checks the bearer token of an API request and returns it,
// or answers 401 and reports false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (token, bool) {
	auth := r.Header.Get("Authorization")
	raw, ok := cutPrefixFold(auth, "Bearer ")
	raw = strings.TrimSpace(raw)
	s.mu.Lock()
	t, known := s.tokens[raw]
	expired := known && !s.now().Before(t.expires)
	s.mu.Unlock()
	switch {
	case !ok || raw == "" || !known:
		// Inferred: an unknown or malformed token gets the same answer as
		// a missing one.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is missing"})
		return token{}, false
	case expired:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is expired"})
		return token{}, false
	}
	return t, true
}

// ExpireTokens expires every token issued so far: the next API call made
// with one of them gets 401 "JWT is expired". Tokens issued later are valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, t := range s.tokens {
		if t.expires.After(now) {
			t.expires = now
			s.tokens[k] = t
		}
	}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
