package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPutOpenDedupAndLimits(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pdf := []byte("%PDF-1.7\n...content...")
	a, err := d.Put(ctx, bytes.NewReader(pdf), 1000)
	if err != nil || a.ContentType != "application/pdf" || a.Size != int64(len(pdf)) {
		t.Fatalf("%+v %v", a, err)
	}
	b, err := d.Put(ctx, bytes.NewReader(pdf), 1000)
	if err != nil || b.Key != a.Key {
		t.Fatalf("same content, different key: %+v %v", b, err)
	}
	r, err := d.Open(ctx, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, pdf) {
		t.Fatal("content differs")
	}
	if _, err := d.Put(ctx, strings.NewReader(strings.Repeat("x", 1001)), 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := d.Put(ctx, strings.NewReader(strings.Repeat("x", 1000)), 1000); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	for _, k := range []string{"../../etc/passwd", "", strings.Repeat("g", 64), strings.Repeat("a", 64)} {
		if _, err := d.Open(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v", k, err)
		}
	}
}

func TestSniffIgnoresNames(t *testing.T) {
	cases := map[string]string{
		"%PDF-1.4":                       "application/pdf",
		"\xff\xd8\xff\xe0JFIF":           "image/jpeg",
		"\x89PNG\r\n\x1a\n\x00":          "image/png",
		"MZ\x90\x00 (an .exe named pdf)": "",
		"<html>":                         "",
		"":                               "",
	}
	for head, want := range cases {
		if got := Sniff([]byte(head)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", head, got, want)
		}
	}
}

func TestSweepTakesOldUnreferencedBlobsOnly(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(s string) string {
		t.Helper()
		info, err := d.Put(ctx, strings.NewReader(s), 1000)
		if err != nil {
			t.Fatal(err)
		}
		return info.Key
	}
	age := func(p string) {
		t.Helper()
		old := time.Now().Add(-48 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	used, orphan, young, again := put("%PDF-1 used"), put("%PDF-1 orphan"), put("%PDF-1 young"), put("%PDF-1 again")
	for _, k := range []string{used, orphan, again} {
		age(d.path(k))
	}
	// An interrupted upload's temporary file, old, and one in progress.
	for name, old := range map[string]bool{tempPrefix + "old": true, tempPrefix + "new": false} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if old {
			age(filepath.Join(root, name))
		}
	}
	// The same content stored again is new again.
	if put("%PDF-1 again") != again {
		t.Fatal("dedup broke")
	}
	var asked []string
	n, err := d.Sweep(ctx, time.Now().Add(-24*time.Hour), func(_ context.Context, keys []string) (map[string]bool, error) {
		asked = append(asked, keys...)
		return map[string]bool{used: true}, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v", n, err)
	}
	if len(asked) != 2 {
		t.Errorf("asked about %d keys, want the 2 old ones", len(asked))
	}
	for k, want := range map[string]bool{used: true, orphan: false, young: true, again: true} {
		_, err := os.Stat(d.path(k))
		if got := err == nil; got != want {
			t.Errorf("blob %s kept = %v, want %v", k[:8], got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, tempPrefix+"old")); err == nil {
		t.Error("old temporary file kept")
	}
	if _, err := os.Stat(filepath.Join(root, tempPrefix+"new")); err != nil {
		t.Error("upload in progress removed")
	}
	// A failing lookup removes nothing.
	age(d.path(young))
	if _, err := d.Sweep(ctx, time.Now().Add(-24*time.Hour), func(context.Context, []string) (map[string]bool, error) {
		return nil, errors.New("database down")
	}); err == nil {
		t.Fatal("lookup error not returned")
	}
	if _, err := os.Stat(d.path(young)); err != nil {
		t.Fatal("removed without knowing")
	}
}
