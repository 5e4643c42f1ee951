package logs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"jifen/internal/platform/clock"
)

// Fanout is a slog handler that passes each record to every handler
// enabled for its level. A handler's error (a log file on a full disk) is
// not returned: the others have written, and a log call must never fail
// the work it describes; the File counts its own failures.
type Fanout []slog.Handler

// Enabled reports whether any handler takes level.
func (f Fanout) Enabled(ctx context.Context, level slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, level) {
			return true
		}
	}
	return false
}

// Handle passes r to each enabled handler.
func (f Fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			_ = h.Handle(ctx, r.Clone())
		}
	}
	return nil
}

// WithAttrs returns the fanout of each handler with attrs.
func (f Fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(Fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

// WithGroup returns the fanout of each handler in group name.
func (f Fanout) WithGroup(name string) slog.Handler {
	out := make(Fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// JSONHandler writes records to w as JSON lines with the time in UTC, the
// form Search reads.
func JSONHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			return slog.Time(slog.TimeKey, a.Value.Time().UTC())
		}
		return a
	}})
}

// Files are the two logs of one process.
type Files struct {
	App, Security *File
	// Log is the application logger: stdout and the app file.
	Log *slog.Logger
	// SecurityLog writes security events: stdout (marked log=security)
	// and the security file.
	SecurityLog *slog.Logger
}

// Options configure Open.
type Options struct {
	Dir      string // "" or "off": no files, stdout only
	MaxBytes int64
	Keep     time.Duration
	Clock    clock.Clock
	Level    slog.Leveler
}

// Open builds the application and security loggers over stdout (the
// process's existing handler). With Dir "off" or "" there are no files
// and App and Security are nil.
func Open(stdout slog.Handler, o Options) (*Files, error) {
	fs := &Files{}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	secStdout := stdout.WithAttrs([]slog.Attr{slog.String("log", Security)})
	if o.Dir == "" || strings.EqualFold(o.Dir, "off") {
		fs.Log, fs.SecurityLog = slog.New(stdout), slog.New(secStdout)
		return fs, nil
	}
	stdLog := slog.New(stdout)
	fo := FileOptions{MaxBytes: o.MaxBytes, Keep: o.Keep, Clock: o.Clock}
	var err error
	for _, p := range []struct {
		f    **File
		name string
	}{{&fs.App, App}, {&fs.Security, Security}} {
		name := p.name
		fo.OnFail = func(err error) {
			// stdout only: the file is what fails.
			stdLog.Error("log file write failed; records go to stdout only until the disk has room", "log", name,
				"dir", o.Dir, "err", err)
		}
		if *p.f, err = OpenFile(filepath.Clean(o.Dir), name, fo); err != nil {
			return nil, err
		}
	}
	fs.Log = slog.New(Fanout{stdout, JSONHandler(fs.App, o.Level)})
	// Security events are always written, whatever the level.
	fs.SecurityLog = slog.New(Fanout{secStdout, JSONHandler(fs.Security, slog.LevelDebug)})
	return fs, nil
}

// Healthy reports whether both files take writes (true without files).
func (fs *Files) Healthy() bool {
	return fs.App == nil || (fs.App.Healthy() && fs.Security.Healthy())
}

// Failures is the count of failed writes of both files.
func (fs *Files) Failures() int64 {
	if fs.App == nil {
		return 0
	}
	return fs.App.Failures() + fs.Security.Failures()
}

// Purge deletes both logs' files past the retention.
func (fs *Files) Purge() (int, error) {
	if fs.App == nil {
		return 0, nil
	}
	a, err1 := fs.App.Purge()
	s, err2 := fs.Security.Purge()
	return a + s, errors.Join(err1, err2)
}

// Close closes both files.
func (fs *Files) Close() error {
	if fs.App == nil {
		return nil
	}
	return errors.Join(fs.App.Close(), fs.Security.Close())
}
