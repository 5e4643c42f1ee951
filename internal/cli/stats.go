package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/app"
	"jifen/internal/stats"
)

const statsUsage = `Usage:
  jifen stats [--year Y] --dims D1,D2 [--measures count,mean:total,p90:total] [--filter k=v ...]
Prints the statistics of the applications as JSON
{"rows":[{"D1":…,"D1_label":…,"count":…,…}],"total":{…},"as_of":…}: the same
figures as the office page (申报统计), exact (no small-cell suppression: the
command runs on the server). --year Y is --filter round=Y. Dimension and
measure names: docs/api.md; at most 3 dimensions.`

// filterFlags collects repeated --filter k=v.
type filterFlags map[string][]string

func (f filterFlags) String() string { return "" }

func (f filterFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return fmt.Errorf("--filter %q: want name=value", v)
	}
	f[k] = append(f[k], val)
	return nil
}

func runStats(ctx context.Context, env Env, args []string) error {
	fs := flags("stats", env, operatorConfig)
	year := fs.Int("year", 0, "the round's year (same as --filter round=Y)")
	dims := fs.String("dims", "", "dimensions, comma-separated (rows first)")
	measures := fs.String("measures", "count", "measures, comma-separated: count, sum|mean|min|max|pNN:total or :<indicator>")
	filters := filterFlags{}
	fs.Var(filters, "filter", "keep only name=value (repeatable; several values of one name: any of them)")
	fs.Usage = func() { fmt.Fprintln(env.Stderr, statsUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	q := stats.Query{Filters: map[string][]string(filters)}
	for _, d := range strings.Split(*dims, ",") {
		if d = strings.TrimSpace(d); d != "" {
			q.Dims = append(q.Dims, d)
		}
	}
	for _, m := range strings.Split(*measures, ",") {
		if m = strings.TrimSpace(m); m != "" {
			q.Measures = append(q.Measures, m)
		}
	}
	if *year != 0 {
		q.Filters["round"] = append(q.Filters["round"], strconv.Itoa(*year))
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		res, err := a.Stats.Run(ctx, actor.From(ctx), q)
		if err != nil {
			return explain(err)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(stats.Flatten(res))
	})
}
