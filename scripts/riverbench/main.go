// Command riverbench measures River (github.com/riverqueue/river) carrying the
// job shape of jifen's cross-check round, on SQLite (modernc, one writer
// connection, as jifen's platform/db opens it) and on PostgreSQL (pgx).
//
// A round is B batches; each batch has one query job per agency and, once
// the last agency has answered, one score job. A query job waits a simulated
// agency latency outside any transaction, then writes the agency's answer
// (about 100 KB of JSON) and completes itself with river.JobCompleteTx in
// one transaction; the last one of a batch inserts the batch's score job in
// that same transaction. A score job reads the batch's answers, decodes them
// and writes one row per application (500) and completes in one transaction.
//
// It is a separate module so River enters jifen's go.mod only if chosen.
// See README.md for how to run it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

type config struct {
	engine        string
	dsn           string
	mode          string
	batches       int
	agencies      int
	apps          int
	answerKB      int
	latency       time.Duration
	agencyWorkers int
	oneQueue      int
	scoreWorkers  int
	fetchCooldown time.Duration
	fetchPoll     time.Duration
	timeout       time.Duration
	verbose       bool
}

func main() {
	var c config
	flag.StringVar(&c.engine, "engine", "sqlite", "sqlite or postgres")
	flag.StringVar(&c.dsn, "dsn", "", "SQLite file (default: a new file in a temporary directory) or PostgreSQL admin DSN (default postgres://postgres@127.0.0.1:5432/jifen_dev?sslmode=disable); PostgreSQL runs in a fresh database jifen_river")
	flag.StringVar(&c.mode, "mode", "round", "round (the cross-check round) or features (pause, snooze, periodic, unique, rollback)")
	flag.IntVar(&c.batches, "batches", 700, "batches in the round")
	flag.IntVar(&c.agencies, "agencies", 10, "agencies (one query job per batch and agency)")
	flag.IntVar(&c.apps, "apps", 500, "applications per batch (score rows per score job)")
	flag.IntVar(&c.answerKB, "answer-kb", 100, "size of one agency answer in KB")
	flag.DurationVar(&c.latency, "latency", 0, "simulated agency latency per query job (0 measures the queue alone)")
	flag.IntVar(&c.agencyWorkers, "agency-workers", 2, "workers per agency queue (one queue per agency)")
	flag.IntVar(&c.oneQueue, "one-queue", 0, "if > 0: all query jobs in one queue with this many workers instead of a queue per agency")
	flag.IntVar(&c.scoreWorkers, "score-workers", 4, "workers of the score queue")
	flag.DurationVar(&c.fetchCooldown, "fetch-cooldown", 0, "River FetchCooldown (0: River's default, 100ms)")
	flag.DurationVar(&c.fetchPoll, "fetch-poll", 0, "River FetchPollInterval (0: River's default, 1s)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up after")
	flag.BoolVar(&c.verbose, "v", false, "River's own log at info level (default: warnings)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	fmt.Printf("riverbench engine=%s mode=%s batches=%d agencies=%d apps=%d answer=%dKB latency=%s agency-workers=%d one-queue=%d score-workers=%d fetch-cooldown=%s fetch-poll=%s\n",
		c.engine, c.mode, c.batches, c.agencies, c.apps, c.answerKB, c.latency, c.agencyWorkers, c.oneQueue, c.scoreWorkers, c.fetchCooldown, c.fetchPoll)
	fmt.Printf("load at start: %s\n", loadavg())
	var err error
	switch c.engine {
	case "sqlite":
		err = runSQLite(ctx, c, log)
	case "postgres":
		err = runPostgres(ctx, c, log)
	default:
		err = fmt.Errorf("unknown engine %q", c.engine)
	}
	fmt.Printf("load at end: %s\n", loadavg())
	if err != nil {
		fmt.Fprintln(os.Stderr, "riverbench:", err)
		os.Exit(1)
	}
}

func loadavg() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(string(out))
	if i := strings.Index(s, "load average"); i >= 0 {
		return s[i:]
	}
	return s
}
