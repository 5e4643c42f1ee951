package crypto

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestNewKeyringKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKeyring(make([]byte, n)); err == nil {
			t.Errorf("NewKeyring(%d bytes) succeeded, want an error", n)
		}
	}
	if _, err := NewKeyring(make([]byte, MasterKeySize)); err != nil {
		t.Errorf("NewKeyring(32 bytes): %v", err)
	}
}

func TestLoadKeyringCreatesAndReusesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	k1, created, err := LoadKeyring(dir, "")
	if err != nil {
		t.Fatalf("first LoadKeyring: %v", err)
	}
	if !created {
		t.Error("first LoadKeyring: created = false, want true")
	}
	path := filepath.Join(dir, MasterKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := hex.DecodeString(strings.TrimSpace(string(data))); err != nil || len(b) != MasterKeySize {
		t.Errorf("key file holds %q, want 64 hex digits", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only %s", len(entries), MasterKeyFile)
	}

	k2, created, err := LoadKeyring(dir, "")
	if err != nil {
		t.Fatalf("second LoadKeyring: %v", err)
	}
	if created {
		t.Error("second LoadKeyring: created = true, want false")
	}
	if *k1 != *k2 {
		t.Error("second LoadKeyring derived different keys")
	}
	ct, _ := k1.Encrypt([]byte("x"), nil)
	if _, err := k2.Decrypt(ct, nil); err != nil {
		t.Errorf("reloaded keyring cannot decrypt: %v", err)
	}
}

func TestLoadKeyringConcurrentCreateAgrees(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	keys := make([]*Keyring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], _, errs[i] = LoadKeyring(dir, "") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadKeyring %d: %v", i, errs[i])
		}
		if *keys[i] != *keys[0] {
			t.Fatalf("LoadKeyring %d got a different key from 0", i)
		}
	}
}

func TestLoadKeyringEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	fileKey := bytes.Repeat([]byte{0x11}, MasterKeySize)
	writeKeyFile(t, dir, hex.EncodeToString(fileKey), 0o600)
	envKey := bytes.Repeat([]byte{0x22}, MasterKeySize)

	got, created, err := LoadKeyring(dir, "  "+hex.EncodeToString(envKey)+"\n")
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	if created {
		t.Error("created = true with an environment key")
	}
	want, _ := NewKeyring(envKey)
	if *got != *want {
		t.Error("environment key did not override the key file")
	}

	// An environment key needs no data directory and creates no file.
	empty := t.TempDir()
	if _, _, err := LoadKeyring(empty, hex.EncodeToString(envKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(empty, MasterKeyFile)); !os.IsNotExist(err) {
		t.Errorf("key file written although the key came from the environment (stat: %v)", err)
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	good := hex.EncodeToString(bytes.Repeat([]byte{0x33}, MasterKeySize))
	tests := []struct {
		name    string
		file    string // key file content; "" for none
		mode    os.FileMode
		env     string
		noDir   bool
		wantErr string
	}{
		{name: "env not hex", env: strings.Repeat("zz", 32), wantErr: "JIFEN_MASTER_KEY"},
		{name: "env too short", env: good[:62], wantErr: "64 hex digits"},
		{name: "env too long", env: good + "00", wantErr: "64 hex digits"},
		{name: "file not hex", file: "not a key", mode: 0o600, wantErr: "not hex"},
		{name: "file too short", file: good[:32], mode: 0o600, wantErr: "64 hex digits"},
		{name: "file readable by others", file: good, mode: 0o644, wantErr: "chmod 600"},
		{name: "file readable by group", file: good, mode: 0o640, wantErr: "chmod 600"},
		{name: "no key anywhere", noDir: true, wantErr: "JIFEN_MASTER_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				writeKeyFile(t, dir, tt.file, tt.mode)
			}
			if tt.noDir {
				dir = ""
			}
			_, _, err := LoadKeyring(dir, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadKeyring error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadKeyringFileWithNewline(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x44}, MasterKeySize)
	writeKeyFile(t, dir, hex.EncodeToString(key)+"\r\n", 0o600)
	got, created, err := LoadKeyring(dir, "")
	if err != nil || created {
		t.Fatalf("LoadKeyring = created %v, err %v", created, err)
	}
	want, _ := NewKeyring(key)
	if *got != *want {
		t.Error("key file with trailing newline gave a different key")
	}
}

func writeKeyFile(t *testing.T, dir, content string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(dir, MasterKeyFile)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
}
