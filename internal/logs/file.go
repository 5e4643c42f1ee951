// Package logs keeps jifen's log files (日志巡检): the application log and
// the security log written as JSON lines to rotated, gzip-compressed files
// in the data directory beside stdout, purged after the retention; the
// office's search over them; and the daily digest of warnings, errors and
// security events (table log_digests), shown in the office and mailed to
// the on-call list. See docs/operations.md, "Logs".
package logs

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jifen/internal/platform/clock"
)

// The two logs' file name prefixes.
const (
	App      = "app"
	Security = "security"
)

// liveSuffix names the file being written; a rotated file is named by the
// UTC time it was closed, so names sort by time and bound the records
// each file holds without opening it: a file holds the records after the
// previous file's stamp and up to its own.
const (
	liveSuffix  = "-current.jsonl"
	stampLayout = "20060102T150405.000Z"
)

// File is one rotated log: <dir>/<prefix>-current.jsonl, rotated when it
// would pass MaxBytes or when the Beijing day changes, the rotated file
// compressed in the background to <prefix>-<stamp>.jsonl.gz.
//
// A write that fails (a full disk: ENOSPC) never blocks or panics: it is
// counted (Failures), the file is marked unhealthy until a write succeeds
// again, and the caller's other outputs (stdout) go on.
type File struct {
	dir, prefix string
	maxBytes    int64
	keep        time.Duration
	clock       clock.Clock

	mu     sync.Mutex
	f      *os.File
	w      io.Writer // f, or a test's stand-in (wrap)
	size   int64
	day    string // Beijing date the live file was opened
	torn   bool   // the last write failed: start the next on a new line
	closed bool

	wrap     func(io.Writer) io.Writer // tests: a writer that fails
	failures atomic.Int64
	failing  atomic.Bool
	lastErr  atomic.Pointer[string]
	onFail   func(error) // told once when writes start failing
	compress sync.WaitGroup
}

// FileOptions configure a File.
type FileOptions struct {
	MaxBytes int64         // rotate past this size (default 100 MiB)
	Keep     time.Duration // delete rotated files older than this (default 366 days)
	Clock    clock.Clock   // default: the system clock
	// OnFail is called (outside the file's lock) when writing starts to
	// fail after having worked: the process log says so on stdout.
	OnFail func(error)
}

// DefaultKeep is the retention of log files: twelve months.
const DefaultKeep = 366 * 24 * time.Hour

// OpenFile returns the log named prefix in dir, creating dir. The file
// itself is opened at the first write.
func OpenFile(dir, prefix string, o FileOptions) (*File, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 100 << 20
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	return &File{dir: dir, prefix: prefix, maxBytes: o.MaxBytes, keep: o.Keep, clock: o.Clock, onFail: o.OnFail}, nil
}

// Write appends p (one or more whole lines) to the live file, rotating
// first when p would pass the size limit or the day has changed.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	err := l.write(p)
	l.mu.Unlock()
	if err != nil {
		l.failures.Add(1)
		msg := err.Error()
		l.lastErr.Store(&msg)
		if !l.failing.Swap(true) && l.onFail != nil {
			l.onFail(err)
		}
		return 0, err
	}
	l.failing.Store(false)
	return len(p), nil
}

func (l *File) write(p []byte) error {
	if l.closed {
		return errors.New("log file closed")
	}
	now := l.clock.Now()
	day := now.In(clock.Beijing).Format(time.DateOnly)
	if l.w != nil && (l.size+int64(len(p)) > l.maxBytes && l.size > 0 || day != l.day) {
		l.rotate(now)
	}
	if l.w == nil {
		if err := l.open(day); err != nil {
			return err
		}
		if l.day != day { // an earlier process's file of an earlier day
			l.rotate(now)
			if err := l.open(day); err != nil {
				return err
			}
		}
	}
	if l.torn {
		if _, err := l.w.Write([]byte{'\n'}); err != nil {
			return err
		}
		l.size++
		l.torn = false
	}
	n, err := l.w.Write(p)
	l.size += int64(n)
	if err != nil {
		l.torn = true
	}
	return err
}

func (l *File) live() string { return filepath.Join(l.dir, l.prefix+liveSuffix) }

func (l *File) open(day string) error {
	f, err := os.OpenFile(l.live(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	l.f, l.w, l.size, l.day = f, io.Writer(f), st.Size(), day
	// A live file left by an earlier process on an earlier day is rotated
	// before the first write today rather than growing across days.
	if st.Size() > 0 {
		if d := st.ModTime().In(clock.Beijing).Format(time.DateOnly); d < day {
			l.day = d
		}
	}
	if l.wrap != nil {
		l.w = l.wrap(f)
	}
	return nil
}

// rotate closes the live file, renames it by now and compresses it in the
// background; then it deletes the files past the retention. Failures are
// left for the next write to notice (the live file reopens).
func (l *File) rotate(now time.Time) {
	_ = l.f.Close()
	l.f, l.w = nil, nil
	name := filepath.Join(l.dir, l.prefix+"-"+now.UTC().Format(stampLayout)+".jsonl")
	// Two rotations in one millisecond (a burst past the size limit) must
	// not overwrite: the later stamp moves on, still bounding its records.
	for stamp := now; exists(name) || exists(name+".gz"); {
		stamp = stamp.Add(time.Millisecond)
		name = filepath.Join(l.dir, l.prefix+"-"+stamp.UTC().Format(stampLayout)+".jsonl")
	}
	if err := os.Rename(l.live(), name); err != nil {
		return
	}
	l.compress.Add(1)
	go func() {
		defer l.compress.Done()
		if err := gzipFile(name); err != nil {
			l.failures.Add(1)
			msg := "compress " + filepath.Base(name) + ": " + err.Error()
			l.lastErr.Store(&msg)
		}
	}()
	_, _ = l.purge(now)
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// gzipFile compresses name to name.gz and removes name; on failure (a full
// disk) the plain file stays, still searchable.
func gzipFile(name string) (err error) {
	in, err := os.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := name + ".gz.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err = io.Copy(zw, in); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, name+".gz"); err != nil {
		return err
	}
	return os.Remove(name)
}

// Rotate closes the live file now (tests; an operator's request).
func (l *File) Rotate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		l.rotate(l.clock.Now())
	}
}

// Purge deletes the rotated files whose last record is older than the
// retention, and returns how many it deleted.
func (l *File) Purge() (int, error) {
	return l.purge(l.clock.Now())
}

func (l *File) purge(now time.Time) (int, error) {
	segs, err := segments(l.dir, l.prefix)
	if err != nil {
		return 0, err
	}
	cut := now.Add(-l.keep)
	n := 0
	var errs []error
	for _, s := range segs {
		if s.live || !s.end.Before(cut) {
			continue
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Wait waits for the background compressions (tests; Close).
func (l *File) Wait() { l.compress.Wait() }

// Close closes the live file and waits for the compressions.
func (l *File) Close() error {
	l.mu.Lock()
	var err error
	if l.f != nil {
		err = l.f.Close()
	}
	l.f, l.w, l.closed = nil, nil, true
	l.mu.Unlock()
	l.Wait()
	return err
}

// Failures is how many writes (and compressions) have failed since start.
func (l *File) Failures() int64 { return l.failures.Load() }

// Healthy reports whether the last write succeeded.
func (l *File) Healthy() bool { return !l.failing.Load() }

// LastError is the last failure's text ("" if none).
func (l *File) LastError() string {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Dir is the directory of the log's files.
func (l *File) Dir() string { return l.dir }

// segment is one file of a log and the time its records end (the live
// file's is the far future).
type segment struct {
	path     string
	start    time.Time // the previous file's end (zero for the first)
	end      time.Time
	live, gz bool
}

// segments lists the files of the log prefix in dir by time. A rotated
// file waiting for compression (.jsonl) and its finished .gz never both
// count: the .gz wins.
func segments(dir, prefix string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byStamp := map[string]segment{}
	var out []segment
	for _, e := range ents {
		name := e.Name()
		if name == prefix+liveSuffix {
			out = append(out, segment{path: filepath.Join(dir, name), end: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), live: true})
			continue
		}
		rest, ok := strings.CutPrefix(name, prefix+"-")
		if !ok {
			continue
		}
		gz := strings.HasSuffix(rest, ".jsonl.gz")
		stamp, ok := strings.CutSuffix(strings.TrimSuffix(rest, ".gz"), ".jsonl")
		if !ok || (!gz && strings.HasSuffix(rest, ".gz")) {
			continue
		}
		end, err := time.Parse(stampLayout, stamp)
		if err != nil {
			continue
		}
		if prev, seen := byStamp[stamp]; seen && prev.gz {
			continue
		}
		byStamp[stamp] = segment{path: filepath.Join(dir, name), end: end, gz: gz}
	}
	for _, s := range byStamp {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].end.Before(out[j].end) })
	for i := 1; i < len(out); i++ {
		out[i].start = out[i-1].end
	}
	return out, nil
}
