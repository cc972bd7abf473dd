package isc

import (
	"fmt"
	"strings"
)

// APIVersion selects the family of ISC's public endpoints that inviter's
// identity calls (invite, list, get) and task-status reads go to. Search
// (reconcile) is POST /v3/search in every family; the /cc calls and the
// trigger subscriptions are the same in every family too.
type APIVersion string

const (
	// APIVersionV2025 is the 2025 annual version: /v2025/identities/invite
	// (experimental: X-SailPoint-Experimental is sent), /v2025/identities,
	// /v2025/task-status/{id}. The default.
	APIVersionV2025 APIVersion = "v2025"
	// APIVersionBeta is the beta collection: /beta/identities/invite,
	// /beta/identities, /beta/task-status/{id}.
	APIVersionBeta APIVersion = "beta"
	// APIVersionV1 is SailPoint's per-service versioning:
	// /identities/v1/invite, /identities/v1, /task-status/v1/{id}
	// (experimental when published).
	APIVersionV1 APIVersion = "v1"
)

// DefaultAPIVersion is the family used when Config.APIVersion is empty.
const DefaultAPIVersion = APIVersionV2025

// APIVersions lists the accepted API version families.
var APIVersions = []APIVersion{APIVersionV2025, APIVersionBeta, APIVersionV1}

// ParseAPIVersion reads a family name (as given to --api-version or
// INVITER_API_VERSION); "" is the default.
func ParseAPIVersion(s string) (APIVersion, error) {
	v := APIVersion(strings.ToLower(strings.TrimSpace(s)))
	if v == "" {
		return DefaultAPIVersion, nil
	}
	for _, known := range APIVersions {
		if v == known {
			return v, nil
		}
	}
	return "", fmt.Errorf("--api-version (INVITER_API_VERSION) %q: want one of v2025, beta, v1", s)
}

// apiPaths are the paths of one API version family, below the base URL.
type apiPaths struct {
	invite     string // POST
	identities string // GET list; + "/{id}" for one identity
	taskStatus string // + "/{id}"
}

func (v APIVersion) endpoints() apiPaths {
	switch v {
	case APIVersionBeta:
		return apiPaths{invite: "/beta/identities/invite", identities: "/beta/identities", taskStatus: "/beta/task-status"}
	case APIVersionV1:
		return apiPaths{invite: "/identities/v1/invite", identities: "/identities/v1", taskStatus: "/task-status/v1"}
	default:
		return apiPaths{invite: "/v2025/identities/invite", identities: "/v2025/identities", taskStatus: "/v2025/task-status"}
	}
}
