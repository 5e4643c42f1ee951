// Package blob stores attachment files by content: the key of a file is the
// SHA-256 of its bytes, so the same file stored twice is kept once and a
// key names exactly one content. The local-directory store is the embedded
// default; an S3-compatible store can implement the same interface.
package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Store keeps blobs.
type Store interface {
	// Put stores at most limit bytes from r and returns the key, the size and
	// the sniffed content type. More than limit bytes is ErrTooLarge.
	Put(ctx context.Context, r io.Reader, limit int64) (Info, error)
	// Open returns the content of key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Sweep removes the blobs last stored before `before` that inUse does
	// not name, and the leftovers of interrupted uploads; it returns how
	// many files it removed.
	Sweep(ctx context.Context, before time.Time, inUse InUse) (int, error)
}

// InUse reports which of keys a record still names.
type InUse func(ctx context.Context, keys []string) (map[string]bool, error)

// Info describes a stored blob.
type Info struct {
	Key         string
	Size        int64
	ContentType string // sniffed from the bytes: application/pdf, image/jpeg, image/png, or "" for anything else
}

// Errors of the store.
var (
	ErrTooLarge = errors.New("blob: too large")
	ErrNotFound = errors.New("blob: not found")
)

// Dir is a Store in a local directory, sharded by the key's first bytes.
type Dir struct{ root string }

// NewDir returns a store under root, creating it.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, err
	}
	return &Dir{root: root}, nil
}

var keyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (d *Dir) path(key string) string { return filepath.Join(d.root, key[:2], key[2:4], key) }

// Put writes to a temporary file while hashing, then renames it into place.
func (d *Dir) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	tmp, err := os.CreateTemp(d.root, tempPrefix+"*")
	if err != nil {
		return Info{}, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // renamed away on success
	h := sha256.New()
	head := &headBuffer{max: 512}
	n, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = ErrTooLarge
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, err
	}
	info := Info{Key: hex.EncodeToString(h.Sum(nil)), Size: n, ContentType: Sniff(head.Bytes())}
	dst := d.path(info.Key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return Info{}, err
	}
	if _, err := os.Stat(dst); err == nil {
		// The same content is already stored. It may be an orphan the
		// sweep is about to take: as new, it is safe for another day.
		now := time.Now()
		if err := os.Chtimes(dst, now, now); err != nil {
			return Info{}, fmt.Errorf("blob: touch: %w", err)
		}
		return info, nil
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Info{}, fmt.Errorf("blob: store: %w", err)
	}
	return info, nil
}

// Open opens a stored blob.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !keyPattern.MatchString(key) {
		return nil, ErrNotFound
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// tempPrefix names the temporary file of an upload in progress.
const tempPrefix = ".upload-"

// sweepBatch is how many keys one InUse call is asked about.
const sweepBatch = 500

// Sweep walks the store once. A blob's age is its file's modification time
// (the wall clock of the machine that wrote it; Put renews it when the same
// content comes again), so a blob written for a row whose transaction has
// not committed yet is never taken: before is meant to be a day ago.
func (d *Dir) Sweep(ctx context.Context, before time.Time, inUse InUse) (int, error) {
	removed := 0
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		used, err := inUse(ctx, batch)
		if err != nil {
			return err
		}
		for _, k := range batch {
			if used[k] {
				continue
			}
			p := d.path(k)
			// Stored again since the walk saw it: keep it.
			if st, err := os.Stat(p); err != nil || !st.ModTime().Before(before) {
				continue
			}
			if err := os.Remove(p); err == nil {
				removed++
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		name := e.Name()
		st, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		if !st.ModTime().Before(before) {
			return nil
		}
		switch {
		case strings.HasPrefix(name, tempPrefix) && filepath.Dir(p) == d.root:
			if os.Remove(p) == nil {
				removed++
			}
		case keyPattern.MatchString(name) && p == d.path(name):
			batch = append(batch, name)
			if len(batch) >= sweepBatch {
				return flush()
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return removed, err
}

type headBuffer struct {
	bytes.Buffer
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - h.Len(); room > 0 {
		if len(p) > room {
			h.Buffer.Write(p[:room])
		} else {
			h.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// Sniff names the type of a file from its first bytes: only the types the
// system accepts are recognised, whatever the file's name claims.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}):
		return "image/png"
	}
	return ""
}
