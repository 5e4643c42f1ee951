package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMailImport imports a list from the command line as the console
// operator: the report on stdout, the summary on stderr; again (all
// duplicates); a binary file (refused); missing flags.
func TestMailImport(t *testing.T) {
	env := testEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "list.csv")
	if err := os.WriteFile(file, []byte("email,name\na@example.cn,甲\nB@example.cn,乙\nbad,丙\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
		Rejected   int `json:"rejected"`
	}
	r := jifen(t, env, "", "mail", "import", "--list", "测试名单", "--file", file)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Accepted != 2 || rep.Rejected != 1 ||
		!strings.Contains(r.stderr, "accepted 2") {
		t.Fatalf("import: %+v", r)
	}
	r = jifen(t, env, "", "mail", "import", "--list", "测试名单", "--file", file)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Accepted != 0 || rep.Duplicates != 2 {
		t.Fatalf("second import: %+v", r)
	}
	bin := filepath.Join(dir, "list.xlsx")
	if err := os.WriteFile(bin, []byte("PK\x03\x04\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := jifen(t, env, "", "mail", "import", "--list", "x", "--file", bin); r.code != 1 || !strings.Contains(r.stderr, "二进制") {
		t.Fatalf("binary: %+v", r)
	}
	if r := jifen(t, env, "", "mail", "import", "--list", "x"); r.code != 1 || !strings.Contains(r.stderr, "--file") {
		t.Fatalf("missing flags: %+v", r)
	}
}
