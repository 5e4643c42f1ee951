package stats

import (
	"encoding/json"
	"strconv"
	"sync"
)

// resultCache holds the latest answers, at most cacheSize, each under the
// snapshot generation, scope, threshold and query it answers; a new
// generation makes the old keys unreachable and they age out.
type resultCache struct {
	mu    sync.Mutex
	m     map[string]*Result
	order []string // insertion order, oldest first
}

const cacheSize = 256

func cacheKey(gen uint64, scope string, below int, q Query) string {
	b, _ := json.Marshal(q) // map keys (filters) are sorted
	return strconv.FormatUint(gen, 10) + "|" + scope + "|" + strconv.Itoa(below) + "|" + string(b)
}

func (c *resultCache) get(key string) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *resultCache) put(key string, r *Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*Result{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	c.m[key] = r
	c.order = append(c.order, key)
	for len(c.order) > cacheSize {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}
