package cli

import (
	"os"
	"strings"
	"testing"
)

// actions are the commands that take an action, with their actions.
var actions = map[string][]string{
	"user":      {"create", "reset", "disable", "enable", "unlock", "list"},
	"check":     {"connect", "start", "work", "status"},
	"audit":     {"verify", "purge"},
	"publicity": {"import", "verify"},
	"mail":      {"import"},
}

// TestHelpOpensNothing asks every command and every action for help in an
// empty directory with no configuration: each must answer and exit 0
// without creating the data directory, a database or a master key there.
func TestHelpOpensNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var asks [][]string
	for _, c := range commands() {
		asks = append(asks, []string{c.name, "-h"}, []string{c.name, "--help"})
		for _, a := range actions[c.name] {
			asks = append(asks, []string{c.name, a, "-h"})
		}
	}
	for _, args := range asks {
		r := jifen(t, nil, "", args...)
		if r.code != 0 || r.stdout+r.stderr == "" {
			t.Errorf("jifen %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if left, err := os.ReadDir(dir); err != nil || len(left) > 0 {
			t.Fatalf("jifen %s left %v in the directory (%v)", strings.Join(args, " "), left, err)
		}
	}
}

// TestHelpListsOnlyTheFlagsUsed reads each command's help: the listener,
// mail and TLS flags belong to serve (and config, which prints them all);
// each action of check lists its own flags only.
func TestHelpListsOnlyTheFlagsUsed(t *testing.T) {
	t.Chdir(t.TempDir())
	serving := []string{"-internet-addr", "-office-addr", "-metrics-addr", "-surfaces", "-worker", "-tls-cert", "-smtp-host", "-shutdown-grace"}
	cases := []struct {
		args      []string
		has, lack []string
	}{
		{[]string{"serve", "-h"}, append([]string{"-demo", "-reset", "-data-dir", "-db", "-master-key"}, serving...), nil},
		{[]string{"config", "-h"}, append([]string{"-data-dir", "-log-level"}, serving...), nil},
		{[]string{"synth", "-h"}, []string{"-people", "-seed", "-data-dir", "-db", "-master-key", "-log-level"}, serving},
		{[]string{"migrate", "-h"}, []string{"-status", "-data-dir", "-db"}, append([]string{"-master-key", "-log-level"}, serving...)},
		{[]string{"audit", "verify", "-h"}, []string{"-data-dir", "-db"}, append([]string{"-master-key"}, serving...)},
		{[]string{"agencysim", "-h"}, []string{"-addr", "-agency-key", "-faults", "-db", "-log-level"}, append([]string{"-master-key"}, serving...)},
		{[]string{"user", "create", "-h"}, []string{"-login", "-role", "-password-stdin", "-db"}, append([]string{"-reason"}, serving...)},
		{[]string{"user", "list", "-h"}, []string{"-role"}, append([]string{"-login", "-password-stdin"}, serving...)},
		{[]string{"user", "unlock", "-h"}, []string{"-login"}, []string{"-role", "-password-stdin", "-reason"}},
		{[]string{"check", "connect", "-h"}, []string{"-base-url", "-agency-key", "-rate", "-batch"}, append([]string{"-year", "-workers", "-run"}, serving...)},
		{[]string{"check", "start", "-h"}, []string{"-year", "-item", "-application", "-batch-apps"}, []string{"-base-url", "-workers", "-run"}},
		{[]string{"check", "work", "-h"}, []string{"-run", "-workers"}, []string{"-base-url", "-year"}},
		{[]string{"check", "status", "-h"}, []string{"-run"}, []string{"-base-url", "-year", "-workers"}},
	}
	for _, c := range cases {
		r := jifen(t, nil, "", c.args...)
		help := r.stdout + r.stderr
		for _, f := range c.has {
			if !strings.Contains(help, "  "+f+" ") && !strings.Contains(help, "  "+f+"\n") {
				t.Errorf("jifen %s does not list %s:\n%s", strings.Join(c.args, " "), f, help)
			}
		}
		for _, f := range c.lack {
			if strings.Contains(help, "  "+f+" ") || strings.Contains(help, "  "+f+"\n") {
				t.Errorf("jifen %s lists %s, which it does not use", strings.Join(c.args, " "), f)
			}
		}
	}
}

func TestActionsAreCheckedBeforeAnythingIsOpened(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{{"user"}, {"user", "promote"}, {"check"}, {"check", "--run", "1"}, {"audit", "rewrite"},
		{"user", "disable"}, {"check", "connect", "--base-url", "http://127.0.0.1:9300"}} {
		if r := jifen(t, nil, "", args...); r.code != 1 || r.stderr == "" {
			t.Errorf("jifen %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("a refused command left %v in the directory", left)
	}
}
