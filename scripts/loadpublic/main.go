// Command loadpublic measures public pages against the floor of the
// machine: it runs wrk on each given path of a running jifen and on a bare
// net/http hello-world, and prints a Markdown table of requests per second,
// median and 99th-percentile latency, and each path's throughput as a share
// of the hello-world's. The hello-world is served in this process on
// 127.0.0.1:0 unless -hello names one already running (for example
// `loadpublic hello -addr 127.0.0.1:18099` in another shell, or on another
// core set).
//
//	go run ./scripts/loadpublic -base http://127.0.0.1:18080 \
//	    /publicity/history/2022 '/api/v1/publicity/history/2022/entries?q=202206006'
//	go run ./scripts/loadpublic hello -addr 127.0.0.1:18099
//
// It needs wrk (Debian package wrk) on PATH or given with -wrk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hello" {
		if err := helloMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadpublic hello:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadpublic:", err)
		os.Exit(1)
	}
}

// helloHandler is the floor: the least work an HTTP answer can cost.
func helloHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "hello, world\n")
}

func helloMain(args []string) error {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:18099", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(helloHandler), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(os.Stderr, "hello-world on http://%s/\n", *addr)
	return srv.ListenAndServe()
}

// startHello serves the hello-world in this process and returns its URL.
func startHello() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(helloHandler), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}

type config struct {
	wrk        string
	threads    int
	conns      int
	duration   time.Duration
	base       string
	hello      string
	paths      []string
	keepOutput string
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadpublic", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: loadpublic [flags] -base URL PATH...
       loadpublic hello [-addr HOST:PORT]

Runs "wrk -tT -cC -dD --latency" on the hello-world and on BASE+PATH for each
PATH, and prints a Markdown table: path, req/s, p50, p99, non-2xx/3xx answers,
and req/s as a share of the hello-world's.

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.wrk, "wrk", "wrk", "the wrk binary")
	fs.IntVar(&c.threads, "t", 2, "wrk threads")
	fs.IntVar(&c.conns, "c", 64, "wrk connections")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "duration of each run")
	fs.StringVar(&c.base, "base", "", "base URL of the server under test, e.g. http://127.0.0.1:18080")
	fs.StringVar(&c.hello, "hello", "", "URL of a running hello-world (default: one started in this process)")
	fs.StringVar(&c.keepOutput, "raw", "", "directory to keep each run's wrk output in (optional)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.paths = fs.Args()
	if c.base == "" && len(c.paths) > 0 {
		return nil, errors.New("-base is required with paths")
	}
	c.base = strings.TrimSuffix(c.base, "/")
	for _, p := range c.paths {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("path %q must start with /", p)
		}
	}
	if c.threads < 1 || c.conns < c.threads || c.duration < time.Second {
		return nil, errors.New("need -t ≥ 1, -c ≥ -t and -d ≥ 1s")
	}
	return c, nil
}

func run(args []string, out io.Writer) error {
	c, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(c.wrk); err != nil {
		return fmt.Errorf("wrk not found (apt-get install wrk, or -wrk PATH): %w", err)
	}
	hello := c.hello
	if hello == "" {
		u, stop, err := startHello()
		if err != nil {
			return err
		}
		defer stop()
		hello = u
	}
	type row struct {
		name string
		res  *Result
	}
	var rows []row
	for i, target := range append([]string{hello}, c.paths...) {
		name, url := "hello-world", target
		if i > 0 {
			name, url = target, c.base+target
		}
		fmt.Fprintf(os.Stderr, "wrk %s …\n", url)
		raw, err := c.runWrk(url)
		if err != nil {
			return fmt.Errorf("%s: %w", url, err)
		}
		if c.keepOutput != "" {
			_ = os.WriteFile(fmt.Sprintf("%s/run-%d.txt", c.keepOutput, i), raw, 0o644)
		}
		res, err := ParseWrk(string(raw))
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", url, err, raw)
		}
		rows = append(rows, row{name, res})
	}
	fmt.Fprintf(out, "wrk -t%d -c%d -d%s --latency\n\n", c.threads, c.conns, c.duration)
	fmt.Fprintln(out, "| path | req/s | p50 | p99 | non-2xx/3xx | vs hello-world |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|")
	base := rows[0].res.RequestsPerSec
	for _, r := range rows {
		fmt.Fprintf(out, "| `%s` | %.0f | %s | %s | %d | %.1f%% |\n", strings.ReplaceAll(r.name, "|", `\|`),
			r.res.RequestsPerSec, fmtDur(r.res.P50), fmtDur(r.res.P99), r.res.Non2xx3xx, 100*r.res.RequestsPerSec/base)
	}
	return nil
}

func (c *config) runWrk(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.duration+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.wrk, fmt.Sprintf("-t%d", c.threads), fmt.Sprintf("-c%d", c.conns),
		fmt.Sprintf("-d%ds", int(c.duration/time.Second)), "--latency", url)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

// fmtDur writes a latency the way people compare them: 0.42 ms, 12.3 ms.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}
