package agencyops_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/platform/db"
)

// BenchmarkSearchCalls searches a large call log of 1,000,000 calls shaped
// like a year's: 90 % probes (one a minute per agency: 4.7 M a year), 10 %
// queries (a round of 350,000 applications in batches of 250 at nine
// agencies, checked about 8 times), newest first.
func BenchmarkSearchCalls(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	const calls, width = 1_000_000, 250
	err := f.db.WithTx(ctx, func(ctx context.Context) error {
		q := 0 // queries so far
		codes := agency.Codes()
		for i := range calls {
			kind, from, to := "probe", int64(0), int64(0)
			if i%10 == 0 {
				batch := int64(q/len(codes)) % (350_000 / width)
				kind, from, to = "query", batch*width+1, batch*width+width
				q++
			}
			if _, err := f.db.Exec(ctx, `INSERT INTO check_calls (at, agency, kind, app_from, app_to, latency_us, status)
				VALUES ($1, $2, $3, $4, $5, 1000, 'ok')`, db.Micros(now.Add(-time.Duration(calls-i)*time.Second)),
				codes[i%len(codes)], kind, from, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, app := range []int64{1, 175_000, 349_999} {
		b.Run("app="+strconv.FormatInt(app, 10), func(b *testing.B) {
			for b.Loop() {
				cs, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{AppID: app})
				if err != nil || len(cs) == 0 {
					b.Fatal(len(cs), err)
				}
			}
		})
	}
	b.Run("rare status", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{Status: "rejected"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("agency", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{Agency: "tax"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
