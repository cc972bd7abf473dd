package isctest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves the tenant's Handler on ln until ctx ends, then shuts the
// HTTP server down, waiting up to 5 s for requests in flight. Tell the
// tenant its address with SetURL first. It returns the error that stopped
// the server early, or that of the shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
