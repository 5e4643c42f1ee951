package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Query selects log records. Zero fields do not filter.
type Query struct {
	Log       string    // App or Security
	From, To  time.Time // records at From or later and before To
	Level     string    // minimum level: DEBUG, INFO, WARN, ERROR
	RequestID string
	User      string // the "user" or "login" field, exactly
	Text      string // anywhere in the line, ignoring case
	Limit     int    // default and maximum MaxResults
	// After continues a search: the Next of the previous page.
	After string
}

// MaxResults bounds one page of results.
const MaxResults = 500

// maxLine is the longest line read; a longer one (a runaway stack trace)
// is skipped rather than loaded.
const maxLine = 1 << 20

// Record is one log line.
type Record struct {
	Time      time.Time      `json:"time"`
	Level     string         `json:"level"`
	Msg       string         `json:"msg"`
	RequestID string         `json:"request_id,omitempty"`
	User      string         `json:"user,omitempty"`
	Fields    map[string]any `json:"fields"`
}

// Result is one page of matches, oldest first. Next, when not empty,
// continues the search after the last record (More is true).
type Result struct {
	Records []Record `json:"records"`
	More    bool     `json:"more"`
	Next    string   `json:"next,omitempty"`
	// Files is how many files were opened: those whose time span meets
	// the query's, not every file of the log.
	Files int `json:"files"`
}

var levels = map[string]int{"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8}

// ErrBadCursor is a continuation that names no position.
var ErrBadCursor = errors.New("logs: bad continuation")

// Search streams the files of the log in dir line by line (gzip
// decompressed as it reads) and returns the first matches. Only the files
// whose span meets [From, To) are opened; no file is read whole into
// memory.
func Search(ctx context.Context, dir string, q Query) (Result, error) {
	if q.Log != App && q.Log != Security {
		return Result{}, fmt.Errorf("logs: unknown log %q", q.Log)
	}
	if q.Limit <= 0 || q.Limit > MaxResults {
		q.Limit = MaxResults
	}
	minLevel, filterLevel := levels[strings.ToUpper(q.Level)]
	segs, err := segments(dir, q.Log)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Result{}, nil
		}
		return Result{}, err
	}
	afterFile, afterLine := "", 0
	if q.After != "" {
		f, n, ok := strings.Cut(q.After, ":")
		line, err := strconv.Atoi(n)
		if !ok || err != nil || line < 0 || strings.ContainsAny(f, `/\`) {
			return Result{}, ErrBadCursor
		}
		afterFile, afterLine = f, line
	}
	text := bytes.ToLower([]byte(q.Text))
	var res Result
	skipping := afterFile != ""
	for _, s := range segs {
		base := filepath.Base(s.path)
		if skipping && base != afterFile && baseNoGz(base) != baseNoGz(afterFile) {
			continue
		}
		startLine := 0
		if skipping {
			startLine, skipping = afterLine, false
		}
		if (!q.To.IsZero() && !s.start.Before(q.To)) || (!q.From.IsZero() && s.end.Before(q.From)) {
			continue
		}
		res.Files++
		err := scanFile(ctx, s, startLine, func(line int, b []byte) bool {
			if len(text) > 0 && !bytes.Contains(bytes.ToLower(b), text) {
				return true
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				return true
			}
			r := toRecord(m)
			if (!q.From.IsZero() && r.Time.Before(q.From)) || (!q.To.IsZero() && !r.Time.Before(q.To)) ||
				(filterLevel && levels[r.Level] < minLevel) ||
				(q.RequestID != "" && r.RequestID != q.RequestID) || (q.User != "" && r.User != q.User) {
				return true
			}
			if len(res.Records) == q.Limit {
				res.More = true
				return false
			}
			res.Records = append(res.Records, r)
			res.Next = baseNoGz(base) + ":" + strconv.Itoa(line)
			return true
		})
		if err != nil {
			return res, err
		}
		if res.More {
			break
		}
	}
	if !res.More {
		res.Next = ""
	}
	return res, nil
}

// baseNoGz names a rotated file the same before and after compression,
// so a continuation survives the compression finishing between pages.
func baseNoGz(base string) string { return strings.TrimSuffix(base, ".gz") }

// scanFile calls f with each line after the first skip lines (1-based
// numbers) until f returns false.
func scanFile(ctx context.Context, s segment, skip int, f func(line int, b []byte) bool) error {
	file, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) && !s.gz && !s.live {
		// Compressed meanwhile.
		s.path, s.gz = s.path+".gz", true
		file, err = os.Open(s.path)
	}
	if err != nil {
		return err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return err
	}
	// Read what the file held when opened: the live file grows while it
	// is read, and a device in its place (a test's /dev/full) never ends.
	r := io.LimitReader(file, st.Size())
	if s.gz {
		zr, err := gzip.NewReader(file)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(s.path), err)
		}
		defer func() { _ = zr.Close() }()
		r = zr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		if line%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		b, long, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil // a file cut short (the disk filled): what was read stands
			}
			return err
		}
		if line <= skip || long || len(b) == 0 {
			continue
		}
		if !f(line, b) {
			return nil
		}
	}
}

// readLine returns the next line without its newline; long reports a
// line past maxLine, whose content is dropped.
func readLine(br *bufio.Reader) (b []byte, long bool, err error) {
	var buf []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(buf)+len(part) <= maxLine {
			buf = append(buf, part...)
		} else {
			long = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(buf) > 0 || long) {
			return bytes.TrimRight(buf, "\r\n"), long, nil
		}
		return bytes.TrimRight(buf, "\r\n"), long, err
	}
}

func toRecord(m map[string]any) Record {
	r := Record{Fields: m}
	if s, ok := m["time"].(string); ok {
		r.Time, _ = time.Parse(time.RFC3339Nano, s)
	}
	r.Level, _ = m["level"].(string)
	r.Msg, _ = m["msg"].(string)
	r.RequestID, _ = m["request_id"].(string)
	if u, ok := m["user"].(string); ok {
		r.User = u
	} else if u, ok := m["login"].(string); ok {
		r.User = u
	}
	for _, k := range []string{"time", "level", "msg", "request_id", "user"} {
		delete(m, k)
	}
	return r
}
