package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/isctest"
)

// measuredProcess is the process whose memory and CPU a scale cell
// measures: pid, or this process when pid is 0.
type measuredProcess struct{ pid int }

func (p *measuredProcess) proc(file string) string {
	if p.pid == 0 {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", p.pid, file)
}

// resetPeak restarts the process's peak RSS (VmHWM) from its current RSS,
// so that the peak is the wave's.
func (p *measuredProcess) resetPeak() error {
	if err := os.WriteFile(p.proc("clear_refs"), []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS: %w", err)
	}
	return nil
}

// peak reads the process's peak RSS since resetPeak, in bytes.
func (p *measuredProcess) peak() (int64, error) { return vmHWM(p.proc("status")) }

// cpuTime is the child's user + system CPU time so far; an error for this
// process, whose CPU time is not the daemon's alone.
func (p *measuredProcess) cpuTime() (time.Duration, error) {
	if p.pid == 0 {
		return 0, errors.New("in-process daemon: no CPU time of its own")
	}
	b, err := os.ReadFile(p.proc("stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command's closing parenthesis: state is the 3rd
	// field of stat, utime and stime the 14th and 15th.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	if !ok {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// vmHWM reads VmHWM (the peak resident set) from a /proc status file.
func vmHWM(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmHWM %q: %w", path, rest, err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no VmHWM line", path)
}

// serveDaemon is inviter serve run as a child process: its peak RSS and
// CPU time are its own.
type serveDaemon struct {
	measuredProcess
	addr   string
	cmd    *exec.Cmd
	logs   *tailBuffer
	exited chan struct{}
	// waitErr is cmd.Wait's error, set before exited is closed.
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

func (d *serveDaemon) Addr() string          { return d.addr }
func (d *serveDaemon) Done() <-chan struct{} { return d.exited }

// Stop sends SIGTERM and waits up to 30 s for the child to exit, then
// kills it.
func (d *serveDaemon) Stop() error {
	d.stopOnce.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
			d.stopErr = errors.New("inviter serve did not stop within 30 s of SIGTERM; killed")
			return
		}
		var ee *exec.ExitError
		if d.waitErr != nil && !(errors.As(d.waitErr, &ee) && ee.ExitCode() == 0) {
			d.stopErr = fmt.Errorf("inviter serve: %v\n%s", d.waitErr, d.logs.String())
		}
	})
	return d.stopErr
}

// startServe starts inviter serve (cfg.ServeBinary, or this executable) as a
// child process with the rig's settings, and waits until it answers
// /healthz. The child's port is picked free and then handed to it, so
// another process may take it in between: the start is tried again on a
// new port then.
func startServe(ctx context.Context, cfg Config, tenant *isctest.Server, o harness.Options) (*serveDaemon, error) {
	for attempt := 1; ; attempt++ {
		d, err := startServeOnce(ctx, cfg, tenant, o)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return d, err
		}
	}
}

func startServeOnce(ctx context.Context, cfg Config, tenant *isctest.Server, o harness.Options) (*serveDaemon, error) {
	bin := cfg.ServeBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the inviter binary to run serve: %w", err)
		}
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", addr, "--admin-listen", "off", "--db", o.DB, "--api", string(o.API),
		"--batch-size", strconv.Itoa(o.BatchSize), "--batch-window", o.BatchWindow.String(),
		"--directory-refresh", o.DirectoryRefresh.String(), "--rate-limit", cfg.rate(),
		"--shutdown-wait", o.ShutdownWait.String(), "--log-level", "warn"}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"SAIL_BASE_URL="+tenant.URL(), "SAIL_CLIENT_ID="+tenant.ClientID(), "SAIL_CLIENT_SECRET="+tenant.ClientSecret(),
		"INVITER_WEBHOOK_TOKEN="+o.Token)
	d := &serveDaemon{addr: addr, cmd: cmd, logs: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w", bin, err)
	}
	d.pid = cmd.Process.Pid
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	// Ready once /healthz answers.
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("inviter serve exited at start: %v\n%s", d.waitErr, d.logs.String())
		case <-ctx.Done():
			_ = d.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = d.Stop()
			return nil, fmt.Errorf("inviter serve did not answer /healthz within 60 s\n%s", d.logs.String())
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = slices.Clone(b.buf[len(b.buf)-b.max:])
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.Clone(b.buf))
}
