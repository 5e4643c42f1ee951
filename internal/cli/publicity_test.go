package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublicityImport imports the real 2022 list from the command line,
// again (nothing changes), and a malformed file (refused with its line).
func TestPublicityImport(t *testing.T) {
	env := testEnv(t)
	file := "../ranking/testdata/beijing-2022.csv"
	var out struct {
		Cutoff    float64 `json:"cutoff"`
		Qualified int     `json:"qualified"`
		Imported  bool    `json:"imported"`
	}
	r := jifen(t, env, "", "publicity", "import", "--year", "2022", "--quota", "6000", "--file", file)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Cutoff != 105.42 || out.Qualified != 6006 || !out.Imported {
		t.Fatalf("import: %+v", r)
	}
	r = jifen(t, env, "", "publicity", "import", "--year", "2022", "--quota", "6000", "--file", file)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Imported {
		t.Fatalf("second import: %+v", r)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("publicity_no,birth_ym,total\n202300001,1980-01,120\n202300002,1980-01,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = jifen(t, env, "", "publicity", "import", "--year", "2023", "--quota", "1", "--file", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "第 3 行") {
		t.Fatalf("malformed: %+v", r)
	}
	if r := jifen(t, env, "", "publicity", "import", "--year", "2023"); r.code != 1 || !strings.Contains(r.stderr, "--quota") {
		t.Fatalf("missing flags: %+v", r)
	}
}
