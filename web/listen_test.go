package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/inviter/inviter/web"
)

// serve runs ListenAndServe on 127.0.0.1:0 in the background and returns
// the bound address and the channel its result arrives on.
func serve(t *testing.T, ctx context.Context, h http.Handler) (addr string, done <-chan error) {
	t.Helper()
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- web.ListenAndServe(ctx, "127.0.0.1:0", h, nil, func(a string) { ready <- a })
	}()
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe never became ready")
	}
	return addr, errc
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr, done := serve(t, ctx, setup(t).handler)

	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET /healthz = %d %q", res.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestListenAndServeDrains checks that a request in flight when ctx is
// cancelled still gets its answer.
func TestListenAndServeDrains(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr, done := serve(t, ctx, h)

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("ListenAndServe returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)

	if r := <-got; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request = %q, %v; want \"done\"", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe = %v, want nil", err)
	}
}

func TestListenAndServeAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = web.ListenAndServe(t.Context(), ln.Addr().String(), http.NotFoundHandler(), nil, func(string) {
		t.Error("ready called although the address is in use")
	})
	if err == nil {
		t.Fatal("ListenAndServe on a used address = nil, want an error")
	}
}
