package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// goFile is one non-test Go file under internal/, by package path.
type goFile struct {
	pkg, path string
	file      *ast.File
	fset      *token.FileSet
}

func sources(t *testing.T) []goFile {
	t.Helper()
	root := filepath.Join("..")
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		out = append(out, goFile{pkg: filepath.ToSlash(rel), path: path, file: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files under internal/", len(out))
	}
	return out
}

func literal(n ast.Node) (string, bool) {
	b, ok := n.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

var writeRE = regexp.MustCompile(`\b(?:INSERT INTO|UPDATE|DELETE FROM)\s+([a-z_][a-z0-9_]*)\b`)

// Every table is written by its owner only (docs/ARCHITECTURE.md, "Who
// writes which table").
func TestOnlyTheOwnerWritesATable(t *testing.T) {
	writes := 0
	for _, f := range sources(t) {
		if _, ok := Exceptions[f.pkg]; ok {
			continue
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			s, ok := literal(n)
			if !ok {
				return true
			}
			for _, m := range writeRE.FindAllStringSubmatch(s, -1) {
				writes++
				owner, known := Owners[m[1]]
				switch {
				case !known:
					t.Errorf("%s: writes %s, a table with no owner in archtest.Owners", f.fset.Position(n.Pos()), m[1])
				case owner != f.pkg:
					t.Errorf("%s: package %s writes %s, which %s owns: call the owner", f.fset.Position(n.Pos()), f.pkg, m[1], owner)
				}
			}
			return true
		})
	}
	if writes < 50 {
		t.Fatalf("found only %d writes: the scan is broken", writes)
	}
}

// tableRE finds, in order, the statements that make or remove a table.
var tableRE = regexp.MustCompile(`(?i)(CREATE|DROP) TABLE (?:IF (?:NOT )?EXISTS )?([a-z_.]+)`)

// Every table of the migrations has an owner, and the documentation shows
// the same map.
func TestOwnersCoverTheSchemaAndTheDocs(t *testing.T) {
	tables := map[string]bool{"schema_migrations": true} // made by platform/db's migrator
	for _, dialect := range []string{"sqlite", "postgres"} {
		files, err := filepath.Glob(filepath.Join("..", "platform", "db", "migrations", dialect, "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("migrations of %s: %v", dialect, err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Migrations and their statements run in order: a table may be
			// dropped, or dropped and made again (SQLite's rebuild).
			for _, m := range tableRE.FindAllStringSubmatch(string(b), -1) {
				if strings.Contains(m[2], ".") {
					continue // temp.x: a scratch copy, gone at the end
				}
				tables[m[2]] = strings.EqualFold(m[1], "CREATE")
			}
		}
	}
	for table, exists := range tables {
		if !exists {
			delete(tables, table)
		}
	}
	for table := range tables {
		if _, ok := Owners[table]; !ok {
			t.Errorf("table %s has no owner in archtest.Owners", table)
		}
	}
	for table := range Owners {
		if !tables[table] {
			t.Errorf("archtest.Owners names %s, which no migration creates", table)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Rows of the form "| `table`, `table` | `package` | ...".
	row := regexp.MustCompile("(?m)^\\s*\\| ((?:`[a-z_]+`(?:, )?)+) \\| `([a-z/]+)` \\|")
	inDoc := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		for _, tb := range strings.Split(m[1], ", ") {
			inDoc[strings.Trim(tb, "`")] = m[2]
		}
	}
	var diff []string
	for table, owner := range Owners {
		if inDoc[table] != owner {
			diff = append(diff, table+": code "+owner+", docs "+inDoc[table])
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("docs/ARCHITECTURE.md and archtest.Owners differ:\n%s", strings.Join(diff, "\n"))
	}
}

var sqlWordRE = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|WHERE)\b`)

// SQL is never formatted with fmt.Sprintf (values and placeholder numbers
// go in as parameters; optional conditions through db.Where), and only
// platform/db knows which engine it talks to (platform/jobs also knows, to
// hand River the driver of that engine).
func TestNoSQLFormattingOrDialectSwitchOutsidePlatformDB(t *testing.T) {
	for _, f := range sources(t) {
		if f.pkg == "platform/db" {
			continue
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok || len(x.Args) == 0 {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "fmt" || !slices.Contains([]string{"Sprintf", "Fprintf", "Appendf"}, sel.Sel.Name) {
					return true
				}
				for _, a := range x.Args {
					if s, ok := literal(a); ok && sqlWordRE.MatchString(s) {
						t.Errorf("%s: SQL formatted with fmt.%s: pass values as parameters, use db.Where for optional conditions",
							f.fset.Position(x.Pos()), sel.Sel.Name)
					}
				}
			case *ast.SelectorExpr:
				// platform/jobs picks River's driver for the engine: the
				// one engine fact outside platform/db, and it is no SQL.
				if x.Sel.Name == "Dialect" && f.pkg != "platform/jobs" {
					t.Errorf("%s: switch on the database dialect outside platform/db: add what differs to platform/db",
						f.fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
}
