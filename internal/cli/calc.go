package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"jifen/internal/rules"
)

// errInvalidInput ends jifen calc with exit code 1 after the field errors
// have been printed, one per line.
var errInvalidInput = errors.New("输入有误 invalid input")

// runCalc is the public calculator on the command line: the JSON of
// POST /api/v1/calculator on stdin, the same answer on stdout, indented. It
// needs no configuration and no database: scoring is pure.
func runCalc(_ context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("jifen calc", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: jifen calc < facts.json

Reads one calculator request (the JSON of POST /api/v1/calculator, see
internal/rules/testdata/example_2022.json) on stdin and prints the score:
eligibility, the ten indicators with explanations, and the total. On invalid
input it prints each problem as "field: message" on stderr and exits 1.
`)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	req, err := rules.DecodeCalculatorRequest(env.Stdin)
	var res rules.Result
	if err == nil {
		res, err = rules.Calculate(req)
	}
	var fe rules.FieldErrors
	if errors.As(err, &fe) {
		for _, e := range fe {
			fmt.Fprintf(env.Stderr, "%s: %s\n", e.Field, e.Message)
		}
		return errInvalidInput
	}
	if err != nil {
		return err
	}
	// The same encoding as the API's answer (web.JSON), indented.
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(true)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
