package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeDemoStartsAndStopsGracefully runs `jifen serve --demo` as a
// newcomer would, logs in with a printed demo password, and stops it the way
// SIGTERM does (its context ends).
func TestServeDemoStartsAndStopsGracefully(t *testing.T) {
	env := testEnv(t)
	env["JIFEN_INTERNET_ADDR"], env["JIFEN_OFFICE_ADDR"], env["JIFEN_METRICS_ADDR"] = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuf
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"serve", "--demo"}, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] }})
	}()
	portal := regexp.MustCompile(`互联网门户 \(portal\):\s+(http://\S+)`)
	var base string
	// The demo hashes eight passwords and makes 2,000 applicants before the
	// banner: allow a slow, loaded machine (CI runs it under -race).
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := portal.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no demo banner; stderr:\n%s", errb.String())
	}
	pw := regexp.MustCompile(`demo-applicant\s+(\S+)`).FindStringSubmatch(out.String())
	if pw == nil {
		t.Fatalf("no demo applicant in:\n%s", out.String())
	}
	for _, role := range []string{"demo-employer", "demo-district", "demo-city", "demo-agency", "demo-sysadmin", "demo-secadmin", "demo-auditor"} {
		if !strings.Contains(out.String(), role) {
			t.Errorf("demo output lacks %s", role)
		}
	}
	resp, err := http.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"login":"demo-applicant","password":"`+pw[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"demo":true`) {
		t.Fatalf("demo login: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), "shutting down") {
		t.Fatalf("no graceful shutdown logged:\n%s", errb.String())
	}
}

// TestServeDemoReset: `serve --demo --reset` deletes the demo's SQLite
// database (and its journal files) before starting, never a PostgreSQL
// one, and only with --demo.
func TestServeDemoReset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jifen.db")
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(dir, "master.key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err := resetDemoDB(path)
	if err != nil || len(removed) != 3 {
		t.Fatalf("reset: %v %v", removed, err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", f, err)
		}
	}
	if _, err := os.Stat(key); err != nil {
		t.Errorf("the master key went too: %v", err)
	}
	if removed, err := resetDemoDB(path); err != nil || len(removed) != 0 {
		t.Errorf("reset of nothing: %v %v", removed, err)
	}
	if _, err := resetDemoDB("postgres://u:secret@db.example/jifen"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("reset of PostgreSQL: %v", err)
	}
	env := map[string]string{"JIFEN_DATA_DIR": dir, "JIFEN_DB": path}
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := jifen(t, env, "", "serve", "--reset"); r.code == 0 || !strings.Contains(r.stderr, "--demo") {
		t.Errorf("--reset without --demo: %+v", r)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("--reset without --demo deleted the database: %v", err)
	}
}
