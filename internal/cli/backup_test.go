package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

// TestBackupAndRestore: `jifen backup --to DIR` exits 0 with its drill
// passed; `jifen restore --from` refuses a database with tables unless
// --force, and into an empty data dir with the same master key gives a
// system on which `jifen audit verify` passes with every row there.
func TestBackupAndRestore(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	if r := jifen(t, env, "Adm1n#Passw0rd\n", "user", "create", "--login", "root1", "--role", "system_admin", "--password-stdin"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	to := t.TempDir()
	r := jifen(t, env, "", "backup", "--to", to)
	if r.code != 0 || !strings.Contains(r.stdout, "drill    ok") || !strings.Contains(r.stdout, "NOT in the backup") {
		t.Fatalf("backup: %+v", r)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(notDir, nil, 0o600)
	if r := jifen(t, env, "", "backup", "--to", filepath.Join(notDir, "sub")); r.code != 1 || !strings.Contains(r.stderr, "备份") {
		t.Fatalf("backup into a file: %+v", r)
	}
	entries, _ := os.ReadDir(to)
	if len(entries) != 1 {
		t.Fatalf("backup dir holds %v", entries)
	}
	from := filepath.Join(to, entries[0].Name())
	if _, err := os.Stat(filepath.Join(from, crypto.MasterKeyFile)); err == nil {
		t.Fatal("the master key is in the backup")
	}

	if r := jifen(t, env, "", "restore", "--from", from); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("restore over a database with tables: %+v", r)
	}
	if r := jifen(t, env, "", "restore"); r.code != 1 || !strings.Contains(r.stderr, "--from") {
		t.Fatalf("restore without --from: %+v", r)
	}

	// A new data dir with the master key copied over, and an empty
	// database (PostgreSQL: the backup's own schema, emptied).
	env2 := map[string]string{"JIFEN_DATA_DIR": t.TempDir(), "JIFEN_DB": filepath.Join(t.TempDir(), "restored.db")}
	if db.EngineOf(env["JIFEN_DB"]) == "postgres" {
		env2["JIFEN_DB"] = env["JIFEN_DB"]
		wipe(t, env["JIFEN_DB"])
	}
	r = jifen(t, env2, "", "restore", "--from", from)
	if r.code != 0 || !strings.Contains(r.stdout, "审计链完整") || !strings.Contains(r.stderr, "主密钥") {
		t.Fatalf("restore: %+v", r)
	}
	key, err := os.ReadFile(filepath.Join(env["JIFEN_DATA_DIR"], crypto.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(env2["JIFEN_DATA_DIR"], crypto.MasterKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := jifen(t, env2, "", "audit", "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "OK: 1 rows") {
		t.Fatalf("verify after restore: %+v", r)
	}
	if r := jifen(t, env2, "", "user", "list"); r.code != 0 || !strings.Contains(r.stdout, "root1") {
		t.Fatalf("users after restore: %+v", r)
	}
}

// wipe empties the PostgreSQL schema of dsn, as a new database would be.
func wipe(t *testing.T, dsn string) {
	t.Helper()
	d := dbtest.OpenDSN(t, dsn)
	tables, err := d.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if _, err := d.Exec(t.Context(), `DROP TABLE IF EXISTS "`+tb+`" CASCADE`); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.Close()
}
