package isctest

import (
	"net"
	"sync"
	"time"
)

// OutageMode is how the tenant is down during an Outage.
type OutageMode int

// The kinds of outage.
const (
	// OutageErrors answers every request, token calls included, 503.
	OutageErrors OutageMode = iota + 1
	// OutageRefused closes the listening socket, so that connections are
	// refused, and drops requests on connections already open. Only a
	// NewServer can refuse connections; a NewTenant drops every request.
	OutageRefused
)

// outage is the outage in force: none when mode is 0.
type outage struct {
	mode  OutageMode
	until time.Time // by the tenant's clock; zero means until EndOutage
}

// switchListener is a listener that can be closed and opened again on the
// same address, for OutageRefused.
type switchListener struct {
	addr string

	mu     sync.Mutex
	ln     net.Listener
	up     chan struct{} // closed when ln is open
	closed bool
}
