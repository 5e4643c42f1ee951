package db

import (
	"context"
	"strings"
	"sync"
)

// QueryCounter counts the statements run through Exec, Query and QueryRow
// with a context that carries it: tests use it to pin down how many queries
// a page costs, so that a change which adds one fails a test (and says
// which). Without a counter in the context, counting costs a context look-up
// per statement.
type QueryCounter struct {
	mu   sync.Mutex
	stmt []string
}

type counterKey struct{}

// CountQueries returns ctx carrying a new counter, and the counter.
func CountQueries(ctx context.Context) (context.Context, *QueryCounter) {
	c := &QueryCounter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// N is the number of statements counted so far.
func (c *QueryCounter) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmt)
}

// Statements are the statements counted so far, in order, each with its
// white space collapsed.
func (c *QueryCounter) Statements() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.stmt...)
}

// counted records q on the counter ctx carries, if any.
func counted(ctx context.Context, q string) {
	if c, ok := ctx.Value(counterKey{}).(*QueryCounter); ok {
		c.mu.Lock()
		c.stmt = append(c.stmt, strings.Join(strings.Fields(q), " "))
		c.mu.Unlock()
	}
}
