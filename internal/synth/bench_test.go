package synth_test

import (
	"testing"

	"jifen/internal/casetest"
)

// BenchmarkSynth20k generates 20,000 people and 10,000 employers per
// iteration into a fresh database (issue 4's target: 350,000 and 200,000 in
// three minutes).
func BenchmarkSynth20k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := casetest.New(b)
		b.StartTimer()
		res := run(b, e, 20000, 10000, uint64(i))
		b.ReportMetric(float64(res.People)/res.Elapsed.Seconds(), "people/s")
	}
}
