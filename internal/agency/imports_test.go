package agency

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// simulatorImporters are the only non-test files that may import the
// simulator: the command that runs it and the demo that plays it in-process.
// Everything else speaks the contract of this package, so the system never
// depends on its own stand-in for the agencies.
var simulatorImporters = []string{"internal/app/demo.go", "internal/cli/agencysim.go"}

func TestOnlyTheCommandLineAndTheDemoImportTheSimulator(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	var importers []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "jifen/internal/agencysim" {
				rel, _ := filepath.Rel(root, path)
				importers = append(importers, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(importers) == 0 {
		t.Fatal("no file imports the simulator: the walk missed the sources")
	}
	for _, f := range importers {
		if !slices.Contains(simulatorImporters, f) {
			t.Errorf("%s imports jifen/internal/agencysim; only %v may (the wire contract is in jifen/internal/agency)", f, simulatorImporters)
		}
	}
}
