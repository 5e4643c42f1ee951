package rules

import (
	"encoding/json"
	"testing"
)

func TestParsePoints(t *testing.T) {
	tests := []struct {
		in   string
		want Points
		bad  bool
	}{
		{"0", 0, false}, {"43", 4300, false}, {"43.0", 4300, false}, {"12.67", 1267, false},
		{"-10.5", -1050, false}, {"-0.29", -29, false}, {"0.010", 1, false}, {"1e2", 10000, false},
		{"1.5e1", 1500, false}, {"-0", 0, false}, {"0.001", 0, true}, {"", 0, true}, {"1.", 0, true},
		{".5", 0, true}, {"1,5", 0, true}, {"abc", 0, true}, {"1e99", 0, true}, {"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePoints(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("ParsePoints(%q) = %d, %v; want %d, bad=%v", tt.in, got, err, tt.want, tt.bad)
			}
		})
	}
	if _, err := ParseAmount("-1"); err != errDecimalSign {
		t.Errorf("ParseAmount(-1) error = %v, want sign error", err)
	}
}

func TestPointsFormat(t *testing.T) {
	tests := []struct {
		p          Points
		text, json string
	}{
		{4300, "43.00", "43"}, {1267, "12.67", "12.67"}, {-1050, "-10.50", "-10.5"}, {0, "0.00", "0"},
		{-29, "-0.29", "-0.29"}, {5, "0.05", "0.05"}, {13117, "131.17", "131.17"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := tt.p.String(); got != tt.text {
				t.Errorf("String = %q, want %q", got, tt.text)
			}
			b, _ := json.Marshal(tt.p)
			if string(b) != tt.json {
				t.Errorf("JSON = %s, want %s", b, tt.json)
			}
			var back Points
			if err := json.Unmarshal(b, &back); err != nil || back != tt.p {
				t.Errorf("round trip = %d, %v", back, err)
			}
		})
	}
}

// TestRateHalfUp checks exact rational rates and rounding half-up at .005.
func TestRateHalfUp(t *testing.T) {
	owned, rented, study := mustRate(t, "1/12"), mustRate(t, "0.5/12"), mustRate(t, "0.25").Plus(mustRate(t, "0.5/12"))
	tests := []struct {
		name string
		r    Rate
		n    int64
		want Points
	}{
		{"owned 1 month 0.0833", owned, 1, 8},
		{"owned 2 months 0.1667", owned, 2, 17},
		{"owned 132 months", owned, 132, 1100},
		{"rented 1 month 0.04167", rented, 1, 4},
		{"rented 3 months 0.125 up", rented, 3, 13},
		{"rented 9 months 0.375 up", rented, 9, 38},
		{"rented 40 months 1.6667", rented, 40, 167},
		{"study 1 month 0.2917", study, 1, 29},
		{"study 3 months 0.875 up", study, 3, 88},
		{"study 36 months", study, 36, 1050},
		{"zero", rented, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Times(tt.n); got != tt.want {
				t.Errorf("%s × %d = %d, want %d", tt.r, tt.n, got, tt.want)
			}
		})
	}
	if study.String() != "0.25 + 0.5/12" {
		t.Errorf("study rate text %q", study)
	}
	for _, bad := range []string{"", "1/0", "1/x", "-1", "0.001"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func mustRate(t *testing.T, s string) Rate {
	t.Helper()
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseMonth(t *testing.T) {
	tests := []struct {
		in  string
		ok  bool
		out string
	}{
		{"2021-12", true, "2021-12"}, {"1998-07", true, "1998-07"}, {"2021-13", false, ""},
		{"2021-00", false, ""}, {"2021-1", false, ""}, {"21-12", false, ""}, {"2021/12", false, ""},
		{"2021-12-01", false, ""}, {"２０２１-12", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMonth(tt.in)
			if (err == nil) != tt.ok || (tt.ok && m.String() != tt.out) {
				t.Errorf("ParseMonth(%q) = %v, %v", tt.in, m, err)
			}
		})
	}
	if n := per("1998-07", "2021-12").Months(); n != 282 {
		t.Errorf("1998-07..2021-12 = %d months, want 282", n)
	}
	if n := (Period{From: mo("2021-12"), To: mo("2021-11")}).Months(); n != 0 {
		t.Errorf("reversed period = %d months", n)
	}
}
