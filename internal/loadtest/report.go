package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is a run's outcome: per operation and over all requests.
type Report struct {
	Started    time.Time `json:"started"`
	Seconds    float64   `json:"seconds"`
	Scale      float64   `json:"scale"`
	Internet   string    `json:"internet"`
	Office     string    `json:"office"`
	Requests   int       `json:"requests"`
	Throughput float64   `json:"throughput"` // requests per second answered
	Errors     int       `json:"errors"`
	P50MS      float64   `json:"p50_ms"`
	P95MS      float64   `json:"p95_ms"`
	P99MS      float64   `json:"p99_ms"`
	MaxMS      float64   `json:"max_ms"`
	// Goals: whether each of the goals held (docs/loadtest.md).
	Goals []Goal     `json:"goals"`
	Ops   []OpReport `json:"operations"`
	// Left are the operations of the mix not sent, with why (what the
	// servers' data lacks).
	Left map[string]string `json:"left_out,omitempty"`
}

// Goal is one target and whether the run met it.
type Goal struct {
	Name  string  `json:"name"`
	Limit float64 `json:"limit_ms"`
	Value float64 `json:"value_ms"`
	Met   bool    `json:"met"`
}

// OpReport is one operation's figures.
type OpReport struct {
	Name       string         `json:"name"`
	Title      string         `json:"title"`
	Side       string         `json:"side"`
	Kind       string         `json:"kind"`
	Rate       float64        `json:"rate"` // asked per second
	Requests   int            `json:"requests"`
	Throughput float64        `json:"throughput"`
	Errors     int            `json:"errors"`
	P50MS      float64        `json:"p50_ms"`
	P95MS      float64        `json:"p95_ms"`
	P99MS      float64        `json:"p99_ms"`
	MaxMS      float64        `json:"max_ms"`
	Codes      map[string]int `json:"codes"`
	Samples    []string       `json:"error_samples,omitempty"`
	// RanOut: the operation used up what it acts on (the 复查 requests
	// waiting) before the run ended, and sent no more.
	RanOut bool `json:"ran_out,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quantile is the nearest-rank quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func report(cfg Config, start time.Time, took time.Duration, results []*opResult) *Report {
	r := &Report{Started: start, Seconds: took.Seconds(), Scale: cfg.Scale, Internet: cfg.Internet, Office: cfg.Office}
	var all []time.Duration
	worst := map[string]time.Duration{}
	for _, res := range results {
		lat := slices.Clone(res.latencies)
		slices.Sort(lat)
		o := OpReport{Name: res.op.Name, Title: res.op.Title, Side: res.op.Side, Kind: res.op.Kind, Rate: res.rate,
			Requests: len(lat), Throughput: float64(len(lat)) / took.Seconds(), Errors: res.errors, Codes: res.codes, Samples: res.samples, RanOut: res.ranOut,
			P50MS: ms(quantile(lat, 0.5)), P95MS: ms(quantile(lat, 0.95)), P99MS: ms(quantile(lat, 0.99))}
		if len(lat) > 0 {
			o.MaxMS = ms(lat[len(lat)-1])
		}
		r.Ops = append(r.Ops, o)
		r.Requests += len(lat)
		r.Errors += res.errors
		all = append(all, lat...)
		if p := quantile(lat, 0.99); p > worst[res.op.Kind] {
			worst[res.op.Kind] = p
		}
	}
	slices.Sort(all)
	r.Throughput = float64(len(all)) / took.Seconds()
	r.P50MS, r.P95MS, r.P99MS = ms(quantile(all, 0.5)), ms(quantile(all, 0.95)), ms(quantile(all, 0.99))
	if len(all) > 0 {
		r.MaxMS = ms(all[len(all)-1])
	}
	r.Goals = []Goal{
		{Name: "p99 over all requests ≤ 200 ms", Limit: 200, Value: r.P99MS},
		{Name: "every single operation's p99 ≤ 100 ms", Limit: 100, Value: ms(worst[Single])},
		{Name: "every complex query's p99 ≤ 1 s", Limit: 1000, Value: ms(worst[Complex])},
	}
	for i := range r.Goals {
		r.Goals[i].Met = r.Goals[i].Value <= r.Goals[i].Limit
	}
	return r
}

// Markdown writes the report as a Markdown section.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### Load run at scale %g, %s\n\n", r.Scale, r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "%.0f s; %d requests (%.1f/s answered); **%d errors**; p50 %.1f ms, p95 %.1f ms, **p99 %.1f ms**, max %.1f ms.\n\n",
		r.Seconds, r.Requests, r.Throughput, r.Errors, r.P50MS, r.P95MS, r.P99MS, r.MaxMS)
	for _, g := range r.Goals {
		mark := "met"
		if !g.Met {
			mark = "**not met**"
		}
		fmt.Fprintf(w, "- %s: %.1f ms — %s\n", g.Name, g.Value, mark)
	}
	fmt.Fprintf(w, "\n| operation | side | kind | asked/s | answered/s | p50 ms | p95 ms | p99 ms | max ms | errors |\n")
	fmt.Fprintf(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "| %s %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n", o.Name, o.Title, o.Side, o.Kind, o.Rate,
			o.Throughput, o.P50MS, o.P95MS, o.P99MS, o.MaxMS, o.Errors)
	}
	for _, o := range r.Ops {
		if o.RanOut {
			fmt.Fprintf(w, "\n%s used up what it acts on before the end of the run: %d sent.\n", o.Name, o.Requests)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Left)) {
		fmt.Fprintf(w, "\n%s was left out: %s.\n", name, r.Left[name])
	}
	for _, o := range r.Ops {
		if len(o.Samples) > 0 {
			fmt.Fprintf(w, "\n%s errors, for example: %s\n", o.Name, strings.Join(o.Samples, " | "))
		}
	}
}
