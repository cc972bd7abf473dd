// Command inviter invites new SailPoint Identity Security Cloud identities
// to register: a daemon that takes ISC's Identity Created event trigger,
// and a CLI for operators. Run "inviter help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/inviter/inviter/app"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || ee.msg != "" {
			fmt.Fprintln(os.Stderr, "inviter:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries an exit status; an empty msg means the command has
// already said what went wrong.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode is 1 for a failure, 2 for bad usage or settings, or what an
// *exitError says.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	var se *app.SettingError
	if errors.As(err, &ue) || errors.As(err, &se) {
		return 2
	}
	return 1
}

// usageError is a bad flag, argument or setting.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRootCommand(getenv, stdin, stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) && strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's own error for a command it does not know: bad usage.
		return &usageError{fmt.Errorf("%w (see inviter help)", err)}
	}
	return err
}
