package app_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/mailing"
)

// BenchmarkMassMailCampaign is the load run of issue 14's speed targets: a
// campaign to JIFEN_BENCH_MAIL_RECIPIENTS addresses (default 20,000; the
// target is 350,000) queued, then sent to a local SMTP server that only
// counts, with the campaign's statistics page read over HTTP during the
// send. It reports the queuing time, the send rate and the page's p99.
// One iteration is the whole run: go test ./internal/app -run '^$'
// -bench BenchmarkMassMailCampaign -benchtime 1x
func BenchmarkMassMailCampaign(b *testing.B) {
	n := 20000
	if s := os.Getenv("JIFEN_BENCH_MAIL_RECIPIENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for range b.N {
		w := newCampaignWorld(b)
		w.srv.Discard()
		a, ctx := w.a, context.Background()
		var csv strings.Builder
		csv.WriteString("email,name\n")
		for i := range n {
			fmt.Fprintf(&csv, "user%07d@example%d.com,收件人%d\n", i, i%50, i)
		}
		if _, err := a.Mailing.ImportCSV(ctx, w.by, "load", strings.NewReader(csv.String())); err != nil {
			b.Fatal(err)
		}
		l, err := a.Mailing.ByName(ctx, "load")
		if err != nil {
			b.Fatal(err)
		}
		tpl, err := a.Mailing.SaveTemplate(ctx, w.by, mailing.Template{Name: "load", Subject: "{{.Name}}，积分落户通知",
			HTML: "<p>{{.Name}}，您好：</p><p>请留意本年度积分落户申报的时间安排。</p>", Text: "{{.Name}}，您好：请留意本年度积分落户申报的时间安排。"})
		if err != nil {
			b.Fatal(err)
		}
		c, err := a.Campaigns.Create(ctx, w.by, mailing.Input{Name: "load", ListID: l.ID, TemplateID: tpl.ID, Rate: mailing.MaxRate,
			Hourly: mailing.MaxHourly, PauseAfter: 1000})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		if _, err := a.Campaigns.Start(ctx, w.by, c.ID, c.Version, false); err != nil {
			b.Fatal(err)
		}
		var queued, sendStart time.Time
		var lat []time.Duration
		page := fmt.Sprintf("/api/v1/office/mail/campaigns/%d", c.ID)
		a.WorkJobs(30*time.Minute, func() bool {
			cur, err := a.Campaigns.Get(ctx, c.ID)
			if err != nil {
				b.Fatal(err)
			}
			if queued.IsZero() && cur.Status == mailing.Running {
				queued, sendStart = time.Now(), time.Now()
			}
			if cur.Status == mailing.Running {
				t0 := time.Now()
				if r := w.op1.Get(page); r.Status != 200 {
					b.Fatalf("stats page: %d", r.Status)
				}
				lat = append(lat, time.Since(t0))
			}
			return cur.Status == mailing.Finished
		})
		end := time.Now()
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p99 := time.Duration(0)
		if len(lat) > 0 {
			p99 = lat[min(len(lat)-1, len(lat)*99/100)]
		}
		b.ReportMetric(queued.Sub(start).Seconds(), "queue-s")
		b.ReportMetric(float64(n)/end.Sub(sendStart).Seconds(), "msgs/s")
		b.ReportMetric(float64(p99.Microseconds())/1000, "stats-p99-ms")
		b.ReportMetric(float64(len(lat)), "stats-reads")
		counts, err := a.Outbox.CampaignCounts(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if counts["sent"] != n || w.srv.Count() < n {
			b.Fatalf("campaign sent %d of %d (server took %d in all)", counts["sent"], n, w.srv.Count())
		}

	}
}
