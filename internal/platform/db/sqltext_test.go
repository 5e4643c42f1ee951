package db

import (
	"testing"
)

func TestNumberedRewritesOnlyPlaceholders(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT $1", "SELECT ?1"},
		{"SELECT $2, $1, $2 FROM t WHERE a = $10", "SELECT ?2, ?1, ?2 FROM t WHERE a = ?10"},
		{"SELECT '$1', 'it''s $2', $3", "SELECT '$1', 'it''s $2', ?3"},
		{`SELECT "col$1", $1`, `SELECT "col$1", ?1`},
		{"SELECT $1 -- not $2\n, $3", "SELECT ?1 -- not $2\n, ?3"},
		{"SELECT $ , $a, $0", "SELECT $ , $a, $0"},
		{"SELECT 'unterminated $1", "SELECT 'unterminated $1"},
	} {
		if got := numbered(c.in); got != c.want {
			t.Errorf("numbered(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWhereNumbersItsValues(t *testing.T) {
	var w Where
	if w.SQL() != "" || w.Conds() != "TRUE" {
		t.Fatalf("empty: %q %q", w.SQL(), w.Conds())
	}
	w.And("status = ?", "open")
	w.And("(name LIKE ? OR code = ?)", "%a%", "X")
	lim := w.Arg(50)
	if got, want := w.SQL()+" LIMIT "+lim, " WHERE status = $1 AND (name LIKE $2 OR code = $3) LIMIT $4"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if a := w.Args(); len(a) != 4 || a[0] != "open" || a[3] != 50 {
		t.Fatalf("args %v", a)
	}
}
