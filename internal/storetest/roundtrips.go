package storetest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter/store"
)

// RoundTrips counts the round trips between PostgreSQL's clients and
// server through a proxy started by CountRoundTrips.
type RoundTrips struct {
	n atomic.Int64
}

// Count returns how many round trips went through the proxy so far: on
// each connection, every time the client sent after the server had sent
// (or first), one; the pool's liveness pings are not counted.
func (r *RoundTrips) Count() int64 { return r.n.Load() }

// CountRoundTrips starts a TCP proxy in front of the PostgreSQL server
// that dsn (a postgres:// URL) names and returns dsn pointing at the proxy,
// with the counter of the round trips made through it. The proxy stops
// when t ends.
func CountRoundTrips(t testing.TB, dsn string) (string, *RoundTrips) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	upstream := u.Host
	if u.Port() == "" {
		upstream = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &RoundTrips{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(server)
			wg.Go(func() { rt.proxy(client, server) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	u.Host = ln.Addr().String()
	return u.String(), rt
}

// proxy copies between client and server until either side closes,
// counting the client's turns.
func (r *RoundTrips) proxy(client, server net.Conn) {
	var answered atomic.Bool // the server sent since the client last did
	answered.Store(true)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer server.Close()
		copyCounting(server, client, func(b []byte) {
			if answered.Swap(false) && !bytes.Equal(b, pingMessage) {
				r.n.Add(1)
			}
		})
	})
	wg.Go(func() {
		defer client.Close()
		// Marked before the bytes reach the client, which can only send
		// its next request after reading them.
		copyCounting(client, server, func([]byte) { answered.Store(true) })
	})
	wg.Wait()
}

// pingMessage is the query pgx sends to check a connection: pgxpool sends
// it when it hands out a connection idle for more than a second. Not
// counted, so that a slow test counts the round trips of its statements.
var pingMessage = append([]byte{'Q', 0, 0, 0, 12}, "-- ping\x00"...)

// copyCounting copies from src to dst, calling seen with each read before
// writing it.
func copyCounting(dst io.Writer, src io.Reader, seen func([]byte)) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// OpenCounted opens a fresh PostgreSQL schema, migrated by migrate, through
// a proxy that counts round trips, with a pool of one connection so that
// the round trips counted are those of one transaction at a time. It skips
// t without INVITER_TEST_POSTGRES_URL.
func OpenCounted(t testing.TB, migrate func(context.Context, *store.DB) error) (*store.DB, *RoundTrips) {
	t.Helper()
	base := PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Migrating takes more than one connection.
	mdb, err := store.Open(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(ctx, mdb)
	mdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	dsn, rt := CountRoundTrips(t, base)
	db, err := store.Open(ctx, dsn+"&pool_max_conns=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, rt
}
