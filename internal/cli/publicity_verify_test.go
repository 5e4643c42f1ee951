package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/internal/publicity/proof"
)

// receiptFiles writes the canonical file of the proof package's golden
// example and a receipt of one of its rows, edited by edit, and returns
// their paths.
func receiptFiles(t *testing.T, edit func(r *proof.Receipt)) (receipt, list string) {
	t.Helper()
	canon, err := os.ReadFile(filepath.Join("..", "publicity", "proof", "testdata", "small.canonical.txt"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := proof.Parse(canon)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Receipt("202200002")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	receipt, list = filepath.Join(dir, "receipt.json"), filepath.Join(dir, "list.txt")
	if err := os.WriteFile(receipt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, canon, 0o600); err != nil {
		t.Fatal(err)
	}
	return receipt, list
}

func TestPublicityVerify(t *testing.T) {
	receipt, list := receiptFiles(t, nil)
	if r := jifen(t, nil, "", "publicity", "verify", "--receipt", receipt); r.code != 0 || !strings.HasPrefix(r.stdout, "OK ") {
		t.Fatalf("receipt alone: %+v", r)
	}
	r := jifen(t, nil, "", "publicity", "verify", "--receipt", receipt, "--list", list)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "OK ") || !strings.Contains(r.stdout, "fd0c528a1bd464f4cb8da9e56908fde05cafa85c02032b4a3fa1e1fa49266b4d") {
		t.Fatalf("with the list: %+v", r)
	}
	b, _ := os.ReadFile(receipt)
	if r := jifen(t, nil, string(b), "publicity", "verify", "--receipt", "-"); r.code != 0 {
		t.Fatalf("receipt on stdin: %+v", r)
	}
}

func TestPublicityVerifyFails(t *testing.T) {
	tamperedRow, _ := receiptFiles(t, func(r *proof.Receipt) { r.Row = strings.Replace(r.Row, "98.50", "99.50", 1) })
	tamperedRoot, _ := receiptFiles(t, func(r *proof.Receipt) { r.MerkleRoot = strings.Repeat("0", 64) })
	good, list := receiptFiles(t, nil)
	canon, _ := os.ReadFile(list)
	other := filepath.Join(t.TempDir(), "other.txt")
	if err := os.WriteFile(other, []byte(strings.Replace(string(canon), "张三", "张叁", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(notJSON, []byte(`{"format":`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"tampered row", []string{"--receipt", tamperedRow}, "Merkle"},
		{"tampered root", []string{"--receipt", tamperedRoot}, "Merkle"},
		{"tampered row against the list", []string{"--receipt", tamperedRow, "--list", list}, "回执无效"},
		{"another list", []string{"--receipt", good, "--list", other}, "SM3"},
		{"not JSON", []string{"--receipt", notJSON}, "JSON"},
		{"no receipt", nil, "--receipt"},
		{"missing file", []string{"--receipt", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
	}
	for _, c := range cases {
		r := jifen(t, nil, "", append([]string{"publicity", "verify"}, c.args...)...)
		if r.code != 1 || strings.Contains(r.stdout, "OK") || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
}
