package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"jifen/internal/platform/db"
)

// TestStatsCommand: `jifen stats` prints the flat JSON of the issue, its
// counts those of the database's own GROUP BY (exact: the command runs on
// the server), and refuses bad queries with the reason.
func TestStatsCommand(t *testing.T) {
	env := testEnv(t)
	if r := jifen(t, env, "", "synth", "--people", "300", "--employers", "30", "--year", "2026", "--quiet"); r.code != 0 {
		t.Fatalf("synth: %+v", r)
	}
	r := jifen(t, env, "", "stats", "--year", "2026", "--dims", "district,status", "--measures", "count,mean:total,p90:total",
		"--filter", "sex=F", "--filter", "sex=M")
	if r.code != 0 {
		t.Fatalf("stats: %+v", r)
	}
	var out struct {
		Rows  []map[string]any `json:"rows"`
		Total map[string]any   `json:"total"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	d, err := db.Open(context.Background(), env["JIFEN_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	want := map[string]float64{}
	rows, err := d.Query(context.Background(), `SELECT COALESCE(NULLIF(a.district, ''), e.district), a.status, count(*)
		FROM applications a JOIN employers e ON e.id = a.employer_id GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for rows.Next() {
		var dist, st string
		var n float64
		if err := rows.Scan(&dist, &st, &n); err != nil {
			t.Fatal(err)
		}
		want[dist+"|"+st] = n
		total += n
	}
	rows.Close()
	got := map[string]float64{}
	for _, row := range out.Rows {
		got[fmt.Sprint(row["district"], "|", row["status"])] = row["count"].(float64)
		if _, ok := row["mean:total"].(float64); !ok || row["district_label"] == nil {
			t.Errorf("row %v", row)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || out.Total["count"] != total {
		t.Fatalf("stats %v (total %v), database %v (total %v)", got, out.Total["count"], want, total)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--dims", "district,status,sex,round"}, "最多按3个维度"},
		{[]string{"--dims", "colour"}, "colour"},
		{[]string{"--measures", "avg:total"}, "avg:total"},
		{[]string{"--filter", "district"}, "name=value"},
	} {
		if r := jifen(t, env, "", append([]string{"stats"}, c.args...)...); r.code == 0 || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%v: %+v", c.args, r)
		}
	}
}
