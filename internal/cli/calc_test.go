package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "rules", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCalcWorkedExample(t *testing.T) {
	r := jifen(t, nil, readTestdata(t, "example_2022.json"), "calc")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("calc: %+v", r)
	}
	if !strings.Contains(r.stdout, `"total": 131.17`) {
		t.Errorf("no total 131.17:\n%s", r.stdout)
	}
	// The same answer as the API and the engine's golden file, indented.
	if want := readTestdata(t, "example_2022.golden.json"); r.stdout != want {
		t.Errorf("answer differs from example_2022.golden.json:\n%s", r.stdout)
	}
}

func TestCalcBadInput(t *testing.T) {
	example := readTestdata(t, "example_2022.json")
	cases := []struct {
		name, stdin string
		want        []string // lines of stderr, "field: message" prefixes
	}{
		{"not JSON", `{"application_year": 2022`, []string{"body: 请求内容不完整"}},
		{"empty", "", []string{"body: 请求内容为空"}},
		{"malformed date", strings.Replace(example, `"1980-09-10"`, `"1980-9-10"`, 1),
			[]string{"birth_date: 出生日期格式不正确"}},
		{"unknown field", strings.Replace(example, `"study_months"`, `"study_month"`, 1),
			[]string{"study_month: 请求内容中有不认识的字段“study_month”"}},
		{"two problems", strings.Replace(strings.Replace(example, `"昌平区"}`, `"浦东新区"}`, 1), `"M"`, `"X"`, 1),
			[]string{"sex: 性别“X”无效", "housing[0].district: 住房记录第1条的所在区“浦东新区”不是北京市的区"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := jifen(t, nil, tc.stdin, "calc")
			if r.code != 1 || r.stdout != "" {
				t.Fatalf("code %d, stdout %q", r.code, r.stdout)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			// One line per problem, then Main's closing line naming the command.
			if len(lines) != len(tc.want)+1 || !strings.HasPrefix(lines[len(lines)-1], "jifen calc: ") {
				t.Fatalf("stderr:\n%s", r.stderr)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], want)
				}
			}
		})
	}
}

func TestCalcHelpAndArguments(t *testing.T) {
	if r := jifen(t, nil, "", "calc", "-h"); r.code != 0 || !strings.Contains(r.stderr, "jifen calc < facts.json") {
		t.Fatalf("calc -h: %+v", r)
	}
	if r := jifen(t, nil, "", "calc", "facts.json"); r.code != 1 || !strings.Contains(r.stderr, "unexpected argument") {
		t.Fatalf("calc with an argument: %+v", r)
	}
	if r := jifen(t, nil, "", "help"); !strings.Contains(r.stdout, "calc") {
		t.Fatalf("help does not list calc:\n%s", r.stdout)
	}
}
