package graph

import (
	"context"
	"strings"
	"testing"
)

// TestPersistedQueryCacheIsBoundedByBytes: the cache never holds more text
// than its budget, drops the least recently used query first, and does
// not keep a query larger than the whole budget.
func TestPersistedQueryCacheIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	c := newPersistedQueries(300)
	q := func(c byte) string { return strings.Repeat(string(c), 90) } // 100 bytes with a 10-byte key
	c.Add(ctx, "aaaaaaaaaa", q('a'))
	c.Add(ctx, "bbbbbbbbbb", q('b'))
	c.Add(ctx, "cccccccccc", q('c'))
	if _, ok := c.Get(ctx, "aaaaaaaaaa"); !ok { // a is now the most recently used
		t.Fatal("a was dropped while the cache had room")
	}
	c.Add(ctx, "dddddddddd", q('d'))
	if _, ok := c.Get(ctx, "bbbbbbbbbb"); ok {
		t.Error("b, the least recently used, is still held past the budget")
	}
	for _, k := range []string{"aaaaaaaaaa", "cccccccccc", "dddddddddd"} {
		if got, ok := c.Get(ctx, k); !ok || got[0] != k[0] {
			t.Errorf("%s: %q %v, want its query", k, got, ok)
		}
	}
	if n, b := c.held(); n != 3 || b != 300 {
		t.Errorf("held %d queries, %d bytes; want 3, 300", n, b)
	}
	c.Add(ctx, "hugehugehu", strings.Repeat("x", 400))
	if _, ok := c.Get(ctx, "hugehugehu"); ok {
		t.Error("a query larger than the budget was kept")
	}
	if n, _ := c.held(); n != 3 {
		t.Errorf("a query larger than the budget evicted others: %d held", n)
	}
}
