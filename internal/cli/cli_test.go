package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

type run struct {
	code           int
	stdout, stderr string
}

func jifen(t *testing.T, env map[string]string, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return run{code, out.String(), errb.String()}
}

func testEnv(t *testing.T) map[string]string {
	return map[string]string{"JIFEN_DATA_DIR": t.TempDir(), "JIFEN_DB": dbtest.DSN(t)}
}

func TestHelpVersionConfig(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "serve") || !strings.Contains(r.stdout, "audit") {
		t.Fatalf("help: %+v", r)
	}
	if r := jifen(t, env, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "jifen ") {
		t.Fatalf("version: %+v", r)
	}
	if r := jifen(t, env, "", "nonsense"); r.code != 2 {
		t.Fatalf("unknown command: %+v", r)
	}
	env["JIFEN_MASTER_KEY"] = "deadbeefcafe"
	r := jifen(t, env, "", "config", "--office-addr", "127.0.0.1:9999")
	if r.code != 0 || !strings.Contains(r.stdout, "127.0.0.1:9999") || strings.Contains(r.stdout, "deadbeefcafe") {
		t.Fatalf("config: %+v", r)
	}
	if r := jifen(t, map[string]string{"JIFEN_LOG_FORMAT": "xml"}, "", "config"); r.code != 1 || !strings.Contains(r.stderr, "JIFEN_LOG_FORMAT") {
		t.Fatalf("bad config: %+v", r)
	}
}

func TestUserCreateAndAuditVerify(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	r := jifen(t, env, "Adm1n#Passw0rd\n", "user", "create", "--login", "root1", "--role", "system_admin", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "created root1") {
		t.Fatalf("create: %+v", r)
	}
	if r := jifen(t, env, "password\n", "user", "create", "--login", "root2", "--role", "system_admin", "--password-stdin"); r.code != 1 || !strings.Contains(r.stderr, "密码") {
		t.Fatalf("weak password accepted: %+v", r)
	}
	if r := jifen(t, env, "Adm1n#Passw0rd\n", "user", "create", "--login", "root3", "--role", "king", "--password-stdin"); r.code != 1 {
		t.Fatalf("unknown role accepted: %+v", r)
	}
	if r := jifen(t, env, "", "user", "disable", "--login", "root1", "--reason", "test"); r.code != 0 {
		t.Fatalf("disable: %+v", r)
	}
	if r := jifen(t, env, "", "user", "list"); r.code != 0 || !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("list: %+v", r)
	}
	r = jifen(t, env, "", "audit", "verify")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "OK: 2 rows") {
		t.Fatalf("verify: %+v", r)
	}
	// Change a row behind the application's back: verify fails and names it.
	d, err := db.Open(context.Background(), env["JIFEN_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	off := `DROP TRIGGER audit_log_no_update`
	if d.Dialect == db.Postgres {
		off = `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`
	}
	if _, err := d.Exec(context.Background(), off); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), `UPDATE audit_log SET actor_login = 'someone-else' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	r = jifen(t, env, "", "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "BROKEN at audit row 1") {
		t.Fatalf("tampered verify: %+v", r)
	}
}

func TestServeRefusesOldSchemaWithoutMigrate(t *testing.T) {
	env := testEnv(t)
	env["JIFEN_MIGRATE"] = "false"
	env["JIFEN_INTERNET_ADDR"], env["JIFEN_OFFICE_ADDR"], env["JIFEN_METRICS_ADDR"] = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	r := jifen(t, env, "", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, "jifen migrate") {
		t.Fatalf("serve on empty schema: %+v", r)
	}
	if r := jifen(t, env, "", "migrate", "--status"); r.code != 0 || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("status: %+v", r)
	}
}

func TestAgencysimNeedsAKey(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "agencysim", "--addr", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "agency-key") {
		t.Fatalf("%+v", r)
	}
}
