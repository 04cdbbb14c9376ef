package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// DefaultPersistedQueryBytes is the default budget of the automatic
// persisted query cache (HandlerConfig.PersistedQueryBytes).
const DefaultPersistedQueryBytes = 8 << 20

// persistedQueries is the cache of automatic persisted queries (Apollo's
// createPersistedQueryLink): query text by its SHA-256, least recently
// used first out, bounded by the bytes of text it holds rather than by a
// count, since one query may be as large as a request body. A query larger
// than the whole budget is not kept (the client simply sends it again).
// Each replica has its own: a miss costs one round trip, never an error.
type persistedQueries struct {
	mu    sync.Mutex
	max   int
	bytes int
	order *list.List // of *persistedQuery, most recently used in front
	byKey map[string]*list.Element
}

type persistedQuery struct{ hash, query string }

var _ graphql.Cache[string] = (*persistedQueries)(nil)

func newPersistedQueries(maxBytes int) *persistedQueries {
	return &persistedQueries{max: maxBytes, order: list.New(), byKey: map[string]*list.Element{}}
}

// size is what an entry counts against the budget.
func (e *persistedQuery) size() int { return len(e.hash) + len(e.query) }

// Get implements graphql.Cache.
func (c *persistedQueries) Get(_ context.Context, hash string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[hash]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*persistedQuery).query, true
}

// Add implements graphql.Cache.
func (c *persistedQueries) Add(_ context.Context, hash, query string) {
	e := &persistedQuery{hash: hash, query: query}
	if e.size() > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el)
		return // the hash was checked against the text: same query
	}
	c.byKey[hash] = c.order.PushFront(e)
	c.bytes += e.size()
	for c.bytes > c.max {
		last := c.order.Back()
		old := last.Value.(*persistedQuery)
		c.order.Remove(last)
		delete(c.byKey, old.hash)
		c.bytes -= old.size()
	}
}

// held reports how many queries and bytes the cache holds.
func (c *persistedQueries) held() (queries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey), c.bytes
}
