package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts used by ListenAndServe.
const (
	readHeaderTimeout = 5 * time.Second   // slow-loris guard
	readTimeout       = 15 * time.Second  // whole request, body included (≤ 1 MiB)
	writeTimeout      = 30 * time.Second  // handler plus response
	idleTimeout       = 120 * time.Second // keep-alive between requests
	shutdownTimeout   = 10 * time.Second  // grace for in-flight requests
)

// ListenAndServe serves h on the TCP address addr until ctx is cancelled,
// then shuts down gracefully: it stops accepting connections and waits up to
// 10 s for requests in flight before closing the rest.
//
// Once the listener is bound it calls ready, when not nil, with the actual
// address, so that an addr such as "127.0.0.1:0" can be used in tests.
// The server reads a request's headers within 5 s and the whole request
// within 15 s, writes the response within 30 s, and closes keep-alive
// connections idle for 120 s. Its own errors are logged to logger (nil:
// discard).
//
// ListenAndServe returns nil after a shutdown caused by ctx, and otherwise
// the error that stopped it (such as the address being in use).
func ListenAndServe(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, ready func(addr string)) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	bound := ln.Addr().String()
	logger.Info("listening", "addr", bound)
	if ready != nil {
		ready(bound)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve on %s: %w", bound, err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "addr", bound)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-serveErr
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", bound, err)
	}
	return nil
}
