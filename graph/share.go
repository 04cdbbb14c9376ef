package graph

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/viewer"
)

// This file makes one released message cost one execution per distinct
// subscription, not one per subscriber: messageAdded subscriptions that ask
// for the same viewer-independent selection (same document and operation,
// whatever their variables, same kind of principal) share the encoded data
// of each live message. Whom a message reaches is still decided per subscriber by the
// hub (internal/live); only the bytes of what that subscriber may see are
// shared.

// sharedMessageFields are the fields of Message (and of its sender) whose
// value is the same for every viewer who receives the message: they read
// the message the hub released (and its sender, read with it) and nothing
// else — no patient record (reads of those are audited per viewer), no
// channel as the viewer sees it, nothing about the viewer.
var sharedMessageFields = map[string]map[string]bool{
	"Message": {"id": true, "seq": true, "kind": true, "body": true, "sms": true, "createdAt": true, "cursor": true, "__typename": true},
	"User":    {"id": true, "name": true, "jobTitle": true, "__typename": true},
}

// sharedEdges are the object fields a shared selection may descend into.
var sharedEdges = map[string]map[string]string{
	"Message": {"sender": "User"},
}

// shareCapacity bounds the encoded messages kept for sharing: each entry is
// one message under one subscription key, needed only while that message is
// being delivered; an entry evicted early only costs an execution.
const shareCapacity = 4096

// messageShare is the process-wide cache of encoded messageAdded events.
type messageShare struct {
	mu      sync.RWMutex
	entries map[shareKey]*shareEntry
	order   []shareKey // insertion ring, for eviction
	next    int

	executions atomic.Int64 // selections executed for shareable streams (tests)
	direct     atomic.Int64 // events the hub's writers wrote straight to a socket (tests)
	lagging    atomic.Int64 // events left to a subscription's goroutine because its client lagged (tests)

	// around are the configured response interceptors (metrics, tracing):
	// an event served from the share passes through them as an executed
	// one does, first configured outermost, as gqlgen runs them.
	around []graphql.ResponseInterceptor
}

type shareKey struct {
	// op is the principal kind, operation and document, interned: every
	// subscription of one key holds the same handle, so a lookup compares
	// one pointer instead of reading the document twice.
	op  unique.Handle[string]
	msg *ent.Message // the hub's released message, one pointer for every subscriber
}

type shareEntry struct {
	ready chan struct{} // closed once data is set (or the owner gave up)
	// owned is set once a subscription's goroutine took it on to execute
	// the selection; an entry a direct writer made (see writeDirect)
	// waits for one. late is set once a writer waited directWait for it
	// in vain: later writers do not wait again.
	owned atomic.Bool
	late  atomic.Bool
	data  []byte // nil: the owner failed; execute yourself
	size  int    // what data takes in a frame (json.Marshal writes <, >, & as 6 bytes each)
	// resp is the response every subscriber gets when no response
	// interceptor is configured: one value, read by the transports and
	// never written after it is made.
	resp *graphql.Response
}

func newMessageShare(exts []graphql.HandlerExtension) *messageShare {
	c := &messageShare{entries: map[shareKey]*shareEntry{}, order: make([]shareKey, shareCapacity)}
	for _, e := range exts {
		if r, ok := e.(graphql.ResponseInterceptor); ok {
			c.around = append(c.around, r)
		}
	}
	return c
}

// respond returns a shared event through the response interceptors.
func (c *messageShare) respond(ctx context.Context, r *graphql.Response) *graphql.Response {
	if len(c.around) == 0 {
		return r
	}
	next := func(context.Context) *graphql.Response { return r }
	for i := len(c.around) - 1; i >= 0; i-- {
		p, inner := c.around[i], next
		next = func(ctx context.Context) *graphql.Response { return p.InterceptResponse(ctx, inner) }
	}
	return next(ctx)
}

// claim returns the entry of k and whether the caller, a subscription's
// goroutine, must fill it: it is the first to claim it.
func (c *messageShare) claim(k shareKey) (*shareEntry, bool) {
	e, _ := c.entry(k)
	return e, e.owned.CompareAndSwap(false, true)
}

// entry returns the entry of k, made now (not owned yet) if made is set.
func (c *messageShare) entry(k shareKey) (e *shareEntry, made bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if ok {
		return e, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		return e, false
	}
	e = &shareEntry{ready: make(chan struct{})}
	if old := c.order[c.next]; old.msg != nil {
		delete(c.entries, old)
	}
	c.order[c.next] = k
	c.next = (c.next + 1) % len(c.order)
	c.entries[k] = e
	return e, true
}

// directWait bounds how long the hub's writers wait, together, for a
// subscription's goroutine to encode a message: once one waited that long
// in vain, the subscriptions' own goroutines deliver it.
const directWait = 50 * time.Millisecond

// writeDirect writes the shared encoding of k's message as an event of
// op, a websocket subscription, from one of the hub's writer goroutines (see
// live.MessageStream.WriteDirectly), or reports that the subscription's
// own goroutine must deliver it: when nobody has encoded the message yet
// (that goroutine then does), when the encoding failed, or when the socket
// cannot take it now (see wsConn.writeDirect).
func (c *messageShare) writeDirect(ctx context.Context, op *wsOperation, k shareKey) bool {
	e, made := c.entry(k)
	if made {
		return false // this subscription's goroutine will encode it
	}
	select {
	case <-e.ready:
	default:
		if e.late.Load() {
			return false
		}
		t := time.NewTimer(directWait)
		defer t.Stop()
		select {
		case <-e.ready:
		case <-t.C:
			e.late.Store(true)
			return false
		case <-ctx.Done():
			return false
		}
	}
	if e.data == nil {
		return false
	}
	switch op.ws.writeDirect(op, e.size, func() *graphql.Response {
		if e.resp != nil {
			return e.resp
		}
		return c.respond(ctx, &graphql.Response{Data: e.data})
	}) {
	case written:
		c.direct.Add(1)
		return true
	case lagging:
		c.lagging.Add(1)
	}
	return false
}

// ExtensionName implements graphql.HandlerExtension.
func (*messageShare) ExtensionName() string { return "MessageShare" }

// Validate implements graphql.HandlerExtension.
func (*messageShare) Validate(graphql.ExecutableSchema) error { return nil }

// feedSlot is how the messageAdded resolver hands its live stream to the
// share: the resolver returns feed to gqlgen, and the share pulls each live
// message itself (in gqlgen's goroutine for the subscription, with no
// goroutine in between) and passes it on to feed only when it must be
// executed.
type feedSlot struct {
	stream *live.MessageStream
	next   func() (*ent.Message, bool)
	feed   chan *ent.Message
}

type feedSlotKey struct{}

// shareSlot returns the slot of a subscription whose events are shared,
// or nil: its messageAdded resolver opens a pulled stream and returns
// slot.take(stream).
func shareSlot(ctx context.Context) *feedSlot {
	slot, ok := ctx.Value(feedSlotKey{}).(*feedSlot)
	if !ok || slot.next != nil {
		return nil
	}
	return slot
}

// take hands the share the stream and returns the channel the resolver
// gives gqlgen.
func (slot *feedSlot) take(stream *live.MessageStream) <-chan *ent.Message {
	slot.stream, slot.next = stream, stream.Next
	slot.feed = make(chan *ent.Message, 1)
	return slot.feed
}

// InterceptOperation implements graphql.OperationInterceptor. It runs
// inside sessionEnds, so the ends of a stream (nil responses, errors) reach
// it exactly as before.
func (c *messageShare) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	k, ok := shareableKey(ctx)
	if !ok {
		return next(ctx)
	}
	slot := &feedSlot{}
	h := next(context.WithValue(ctx, feedSlotKey{}, slot))
	if slot.next == nil {
		return h // refused, or the resolver failed: as it was
	}
	key := unique.Make(k)
	closed := false
	if op, ok := ctx.Value(wsOperationKey{}).(*wsOperation); ok && op.ws != nil && op.ws.direct() {
		// (Response interceptors then run in the writer, for the
		// operation: they must be quick.)
		// The hub writes this subscription's events to its socket while
		// its goroutine waits: each event is then written from the
		// entry, without waking it.
		slot.stream.WriteDirectly(func(m *ent.Message) bool {
			return c.writeDirect(ctx, op, shareKey{op: key, msg: m})
		})
	}
	return func(ctx context.Context) *graphql.Response {
		if closed {
			return h(ctx)
		}
		// The stream ends when the subscription's context does.
		m, ok := slot.next()
		if !ok {
			closed = true
			close(slot.feed)
			return h(ctx)
		}
		e, owner := c.claim(shareKey{op: key, msg: m})
		if !owner {
			select {
			case <-e.ready: // usually: the owner was first to run
			default:
				select {
				case <-e.ready:
				case <-ctx.Done():
					return h(ctx) // ends the stream, as gqlgen would
				}
			}
			if e.resp != nil {
				return e.resp
			}
			if e.data != nil {
				return c.respond(ctx, &graphql.Response{Data: e.data})
			}
			c.executions.Add(1)
			slot.feed <- m
			return h(ctx)
		}
		defer close(e.ready)
		c.executions.Add(1)
		slot.feed <- m
		r := h(ctx)
		if r != nil && len(r.Errors) == 0 && len(r.Extensions) == 0 && len(r.Data) > 0 {
			// gqlgen reuses its buffer for the next event: keep a copy.
			e.data = append([]byte(nil), r.Data...)
			e.size = len(e.data)
			if htmlEscaped(e.data) {
				e.size *= 6
			}
			if len(c.around) == 0 {
				e.resp = &graphql.Response{Data: e.data}
			}
		}
		return r
	}
}

// shareableKey returns the key under which the subscription ctx runs may
// share its events, or false when it must execute every event itself.
func shareableKey(ctx context.Context) (string, bool) {
	if !graphql.HasOperationContext(ctx) {
		return "", false
	}
	oc := graphql.GetOperationContext(ctx)
	op := oc.Operation
	if op == nil || op.Operation != ast.Subscription || oc.RawQuery == "" || len(op.Directives) > 0 {
		return "", false
	}
	v := viewer.FromContext(ctx)
	if v == nil || v.ObservedBy != "" {
		return "", false
	}
	if len(op.SelectionSet) != 1 {
		return "", false
	}
	root, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || root.Name != "messageAdded" || len(root.Directives) > 0 {
		return "", false
	}
	if !sharedSelection(oc.Doc, root.SelectionSet, "Message", 0) {
		return "", false
	}
	// Variables are left out: a shared selection has no arguments or
	// directives below the root field, so they can only be the root's
	// (channelID, after), which choose the messages a stream receives but
	// not how a message is encoded. Streams of one channel, of all
	// channels, and resuming from different cursors share alike.
	return strconv.Itoa(int(v.Kind)) + "\x00" + oc.OperationName + "\x00" + oc.RawQuery, true
}

// sharedSelection reports whether set, on typ, selects only
// viewer-independent fields (see sharedMessageFields), without directives.
func sharedSelection(doc *ast.QueryDocument, set ast.SelectionSet, typ string, depth int) bool {
	if depth > 8 {
		return false
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.Directives) > 0 || len(s.Arguments) > 0 {
				return false
			}
			if child, ok := sharedEdges[typ][s.Name]; ok {
				if !sharedSelection(doc, s.SelectionSet, child, depth+1) {
					return false
				}
				continue
			}
			if !sharedMessageFields[typ][s.Name] || len(s.SelectionSet) > 0 {
				return false
			}
		case *ast.InlineFragment:
			if len(s.Directives) > 0 || (s.TypeCondition != "" && s.TypeCondition != typ) {
				return false
			}
			if !sharedSelection(doc, s.SelectionSet, typ, depth+1) {
				return false
			}
		case *ast.FragmentSpread:
			if len(s.Directives) > 0 || doc == nil {
				return false
			}
			f := doc.Fragments.ForName(s.Name)
			if f == nil || f.TypeCondition != typ || len(f.Directives) > 0 {
				return false
			}
			if !sharedSelection(doc, f.SelectionSet, typ, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
