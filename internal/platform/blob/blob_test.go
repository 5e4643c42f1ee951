package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
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
