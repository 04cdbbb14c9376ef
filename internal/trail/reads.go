package trail

import (
	"context"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"sync"
	"sync/atomic"

	"entgo.io/ent"

	gen "github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/accesslogentry"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// ReadLog collects the patient records one request (one GraphQL operation,
// or one event of a subscription) read, so they are written to the access
// log once each when the response is done. The Patient interceptor feeds
// it, so every path that returns a patient — node, nodes, patients search,
// a message's or a booking's patients — is recorded in one place.
type ReadLog struct {
	mu      sync.Mutex
	seen    map[[2]pulid.ID]bool
	pending [][2]pulid.ID
	// waiting is len(pending), written under mu: Empty, asked after every
	// response (every live event), reads it without taking mu.
	waiting atomic.Int32
}

type readLogKey struct{}

// WithReadLog returns a context that collects the patient reads made under
// it; Flush writes them.
func WithReadLog(ctx context.Context) (context.Context, *ReadLog) {
	l := &ReadLog{seen: map[[2]pulid.ID]bool{}}
	return context.WithValue(ctx, readLogKey{}, l), l
}

// readLogFrom is the collector in ctx, or nil.
func readLogFrom(ctx context.Context) *ReadLog {
	l, _ := ctx.Value(readLogKey{}).(*ReadLog)
	return l
}

func (l *ReadLog) add(actor pulid.ID, patients []*gen.Patient) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range patients {
		k := [2]pulid.ID{actor, p.ID}
		if !l.seen[k] {
			l.seen[k] = true
			l.pending = append(l.pending, k)
		}
	}
	l.waiting.Store(int32(len(l.pending)))
}

// Empty reports whether no read is waiting to be flushed.
func (l *ReadLog) Empty() bool {
	return l.waiting.Load() == 0
}

// Flush appends a VIEW_PATIENT entry for each patient read since the last
// flush (each viewer and patient once per request).
func (l *ReadLog) Flush(ctx context.Context, client *gen.Client) error {
	l.mu.Lock()
	pending := l.pending
	l.pending = nil
	l.waiting.Store(0)
	l.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	entries := make([]Entry, len(pending))
	for i, k := range pending {
		entries[i] = Entry{Action: accesslogentry.ActionVIEW_PATIENT, Actor: k[0], Patient: &k[1]}
	}
	if err := Record(ctx, client, entries...); err != nil {
		return fmt.Errorf("recording patient reads: %w", err)
	}
	return nil
}

// AuditPatientReads is the Patient read audit (SPEC §10.5: read audit in
// interceptors): each patient a staff member's query returns is noted in the
// request's ReadLog, attributed to the administrator when observing. Workers
// (system viewers), integrations and patients reading their own record are
// not recorded; neither is a read outside a request (no ReadLog).
func AuditPatientReads() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			if err != nil {
				return v, err
			}
			l := readLogFrom(ctx)
			vw := viewer.FromContext(ctx)
			if l == nil || !rule.StaffUser.Holds(vw) {
				return v, nil
			}
			actor := vw.UserID
			if vw.ObservedBy != "" {
				actor = vw.ObservedBy
			}
			switch ps := v.(type) {
			case []*gen.Patient:
				l.add(actor, ps)
			case *gen.Patient:
				l.add(actor, []*gen.Patient{ps})
			}
			return v, nil
		})
	})
}
