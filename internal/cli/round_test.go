package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"jifen/internal/ranking"
)

// TestRoundCommands takes a synthetic round from ready-to-rank to a
// committed ranking through the command line, and every refusal on the way.
func TestRoundCommands(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "synth", "--people", "400", "--employers", "40", "--year", "2026", "--final", "--quiet"); r.code != 0 {
		t.Fatalf("synth: %+v", r)
	}
	if r := jifen(t, env, "", "round", "list"); r.code != 0 || !strings.Contains(r.stdout, "2026  quota 6000") ||
		!strings.Contains(r.stdout, "rulebook 2020") {
		t.Fatalf("list: %+v", r)
	}
	if r := jifen(t, env, "", "round", "rank"); r.code != 1 || !strings.Contains(r.stderr, "--year") {
		t.Fatalf("rank without a year: %+v", r)
	}
	rank := func(args ...string) ranking.Outcome {
		t.Helper()
		r := jifen(t, env, "", append([]string{"round", "rank", "--year", "2026"}, args...)...)
		if r.code != 0 {
			t.Fatalf("rank %v: %+v", args, r)
		}
		var o ranking.Outcome
		if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
			t.Fatalf("rank %v: %v\n%s", args, err, r.stdout)
		}
		return o
	}
	o := rank("--quota", "20", "--what-if")
	if o.Frozen || o.Quota != 20 || o.Ranked < 100 || o.Qualified < 20 || o.Cutoff <= 0 || len(o.Distribution.NearCutoff) != 11 ||
		len(o.Distribution.Overall) == 0 {
		t.Fatalf("what-if: %+v", o)
	}
	sum := 0
	for _, b := range o.Distribution.Overall {
		sum += b.Count
	}
	if sum != o.Ranked {
		t.Fatalf("distribution counts %d of %d ranked", sum, o.Ranked)
	}
	if r := jifen(t, env, "", "round", "rank", "--year", "2026", "--quota", "20", "--commit"); r.code != 1 || !strings.Contains(r.stderr, "尚未冻结") {
		t.Fatalf("commit unfrozen: %+v", r)
	}
	if r := jifen(t, env, "", "round", "rank", "--year", "2026", "--quota", "100000"); r.code != 1 || !strings.Contains(r.stderr, "超过参加排名的人数") {
		t.Fatalf("quota above the number ranked: %+v", r)
	}
	if r := jifen(t, env, "", "round", "freeze", "--year", "2026"); r.code != 0 || !strings.Contains(r.stdout, "frozen") {
		t.Fatalf("freeze: %+v", r)
	}
	if r := jifen(t, env, "", "round", "freeze", "--year", "2026"); r.code != 1 || !strings.Contains(r.stderr, "无需重复冻结") {
		t.Fatalf("second freeze: %+v", r)
	}
	r := jifen(t, env, "", "round", "rank", "--year", "2026", "--quota", "20", "--commit")
	if r.code != 0 || !strings.Contains(r.stdout, `"committed"`) || !strings.Contains(r.stdout, `"digest"`) {
		t.Fatalf("commit: %+v", r)
	}
	if !strings.Contains(r.stdout, `"cutoff": `+o.Cutoff.String()) {
		t.Fatalf("the committed cutoff differs from the what-if's %s: %s", o.Cutoff, r.stdout)
	}
	if r := jifen(t, env, "", "round", "rank", "--year", "2026", "--quota", "20", "--commit"); r.code != 1 || !strings.Contains(r.stderr, "已确认") {
		t.Fatalf("second commit: %+v", r)
	}
	if r := jifen(t, env, "", "round", "list"); r.code != 0 || !strings.Contains(r.stdout, "ranked") {
		t.Fatalf("list after commit: %+v", r)
	}
}
