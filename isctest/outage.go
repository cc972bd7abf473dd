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
	addr    string
	tcpAddr net.Addr

	mu     sync.Mutex
	ln     net.Listener
	up     chan struct{} // closed when ln is open
	closed bool
}

// Outage takes the whole tenant down for d (by the tenant's clock for
// OutageErrors; by the wall clock for a NewServer's OutageRefused, whose
// listener comes back after d). d <= 0 means until EndOutage. Every
// request meets the outage before anything else, token calls included.
func (s *Server) Outage(mode OutageMode, d time.Duration) {
	s.mu.Lock()
	s.outage = outage{mode: mode}
	if d > 0 {
		s.outage.until = s.now().Add(d)
	}
	ln := s.listener
	s.mu.Unlock()
	if mode != OutageRefused || ln == nil {
		return
	}
	ln.down()
	if s.httpSrv != nil {
		s.httpSrv.CloseClientConnections()
	}
	if d > 0 {
		time.AfterFunc(d, s.EndOutage)
	}
}

// EndOutage ends the outage in force, if any: the tenant answers again.
func (s *Server) EndOutage() {
	s.mu.Lock()
	s.outage = outage{}
	ln := s.listener
	s.mu.Unlock()
	if ln != nil {
		ln.reopen()
	}
}

// outageNow returns the mode of the outage in force, or 0.
func (s *Server) outageNow() OutageMode {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.outage
	if o.mode == 0 {
		return 0
	}
	if !o.until.IsZero() && !s.now().Before(o.until) {
		if o.mode == OutageErrors {
			s.outage = outage{}
		}
		return 0
	}
	return o.mode
}

func newSwitchListener(ln net.Listener) *switchListener {
	up := make(chan struct{})
	close(up)
	return &switchListener{addr: ln.Addr().String(), ln: ln, up: up, tcpAddr: ln.Addr()}
}

// Accept waits for a connection, across outages.
func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		ln, up, closed := l.ln, l.up, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if ln == nil {
			<-up
			continue
		}
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		l.mu.Lock()
		swapped := l.ln != ln && !l.closed
		l.mu.Unlock()
		if !swapped {
			return nil, err
		}
	}
}

// down closes the socket: new connections are refused.
func (l *switchListener) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil || l.closed {
		return
	}
	_ = l.ln.Close()
	l.ln = nil
	l.up = make(chan struct{})
}

// reopen listens on the same address again.
func (l *switchListener) reopen() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.closed {
		return
	}
	for range 50 {
		ln, err := net.Listen("tcp", l.addr)
		if err == nil {
			l.ln = ln
			close(l.up)
			return
		}
		time.Sleep(10 * time.Millisecond) // the port may linger briefly
	}
}

// Close closes the listener for good.
func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.ln != nil {
		err = l.ln.Close()
	} else {
		close(l.up)
	}
	return err
}

// Addr returns the listening address.
func (l *switchListener) Addr() net.Addr { return l.tcpAddr }
