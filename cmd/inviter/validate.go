package main

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/inviter/inviter/store"
)

// settingName names where flag name's value came from, for messages: the
// flag when given, its environment variable when that set it, else the
// flag with its default.
func settingName(fs *pflag.FlagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil {
		return "--" + name
	}
	if f.Changed {
		return "--" + name
	}
	// applyEnv sets a value without marking the flag changed.
	if envs := f.Annotations[envAnnotation]; len(envs) > 0 && f.Value.String() != f.DefValue {
		return envs[0]
	}
	return "--" + name + " (default)"
}

// checkListen reports a listen address that cannot be listened on as
// written: HOST:PORT, with a numeric port or a service name.
func checkListen(setting, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: want HOST:PORT such as :8080 or 127.0.0.1:8080 (%v)", setting, addr, splitReason(err))
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return usagef("%s %q: port %d is out of range", setting, addr, n)
		}
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef("%s %q: %q is not a port", setting, addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return usagef("%s %q: %q is not a host", setting, addr, host)
	}
	return nil
}

func splitReason(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// checkDB reports a SQLite database that cannot be created where the
// setting says: the directory must exist and be a directory. A postgres://
// URL is checked when it is opened.
func checkDB(setting, dsn string) error {
	if dsn == "" {
		return usagef("%s is empty: give a SQLite file path or a postgres:// URL", setting)
	}
	if store.IsPostgresDSN(dsn) {
		return nil
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path == ":memory:" {
		return nil
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("%s %s: the directory %s does not exist: create it (mkdir -p %s, owned by the user inviter runs as) or point %s at another file",
			setting, path, dir, dir, strings.Fields(setting)[0])
	case err != nil:
		return usagef("%s %s: %v", setting, path, err)
	case !st.IsDir():
		return usagef("%s %s: %s is not a directory", setting, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("%s %s is a directory: give a file path such as %s", setting, path, filepath.Join(path, "inviter.db"))
	}
	return nil
}
