// Command vulngate reads the JSON stream of `govulncheck -format json` on
// standard input, prints every vulnerability that the code reaches (a
// finding whose trace ends in a function), and fails when one lies in a
// module we can upgrade. Findings in the standard library fail too, unless
// -stdlib=report: their fix is a newer Go toolchain, which is the project's
// choice of toolchain rather than a go.mod upgrade (.ci/run says which).
//
//	govulncheck -format json ./... | go run ./scripts/vulngate [-stdlib=fail|report]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The parts of govulncheck's JSON protocol (golang.org/x/vuln, protocol
// v1.0.0) that the gate reads.
type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		DB             string `json:"db"`
		GoVersion      string `json:"go_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

type vuln struct {
	id, module, found, fixed, summary string
	via                               string // the first call from our code, for the reader
}

func main() {
	stdlib := flag.String("stdlib", "fail", "fail or report: what a reachable vulnerability of the standard library does")
	flag.Parse()
	if *stdlib != "fail" && *stdlib != "report" {
		fmt.Fprintln(os.Stderr, "vulngate: -stdlib is fail or report")
		os.Exit(2)
	}
	vulns, header, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	fmt.Println(header)
	failed := false
	for _, v := range vulns {
		verdict := "FAIL"
		if v.module == "stdlib" && *stdlib == "report" {
			verdict = "reported (fixed by a newer Go toolchain)"
		} else {
			failed = true
		}
		fmt.Printf("%s %s in %s@%s, fixed in %s: %s\n    reached from %s\n", v.id, verdict, v.module, v.found, v.fixed, v.summary, v.via)
	}
	fmt.Printf("%d reachable vulnerabilities\n", len(vulns))
	if failed {
		os.Exit(1)
	}
}

// read collects the reachable vulnerabilities, one per id, in id order.
func read(r io.Reader) ([]vuln, string, error) {
	dec := json.NewDecoder(r)
	summaries := map[string]string{}
	byID := map[string]*vuln{}
	header := ""
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			header = fmt.Sprintf("govulncheck %s, %s, database %s", m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0 && m.Finding.Trace[0].Function != "":
			f := m.Finding
			if byID[f.OSV] != nil {
				continue
			}
			top := f.Trace[0]
			byID[f.OSV] = &vuln{id: f.OSV, module: top.Module, found: top.Version, fixed: f.FixedVersion, via: caller(f.Trace)}
		}
	}
	if header == "" {
		return nil, "", errors.New("no config message: is this govulncheck -format json?")
	}
	var out []vuln
	for _, v := range byID {
		v.summary = summaries[v.id]
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b vuln) int { return strings.Compare(a.id, b.id) })
	return out, header, nil
}

// caller names the last frame of the trace, the call in our own code.
func caller(trace []frame) string {
	f := trace[len(trace)-1]
	name := f.Package + "." + f.Function
	if f.Receiver != "" {
		name = f.Package + "." + strings.TrimPrefix(f.Receiver, "*") + "." + f.Function
	}
	if f.Position != nil {
		name += fmt.Sprintf(" (%s:%d)", f.Position.Filename, f.Position.Line)
	}
	return name
}
