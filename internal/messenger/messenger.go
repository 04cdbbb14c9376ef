// Package messenger owns staff conversations: opening individual, group and
// custom-group channels, sending and replying, read state, labels, and
// keeping channel memberships in step with security groups. Writes run as
// the viewer, so the ent privacy rules decide them; the few structural
// changes no single user may make (group channels following their security
// group) run as the "messenger" worker.
package messenger

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

// MaxBodyLength is the longest message body, in characters.
const MaxBodyLength = 4000

// MaxPatientLinks is how many patients one message may link.
const MaxPatientLinks = 3

// DefaultHideAfter is how long a read channel stays listed without activity.
const DefaultHideAfter = 3 * 24 * time.Hour

// Config tunes the messenger.
type Config struct {
	// Dialect selects row locks (SELECT … FOR UPDATE) and transaction ids
	// on PostgreSQL; SQLite serialises writers itself.
	Dialect store.Dialect
	// HideAfter is the idle time after which a read channel leaves the list
	// (default 3 days).
	HideAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the messenger.
type Service struct {
	client *ent.Client
	bus    pubsub.Bus
	log    *slog.Logger
	cfg    Config
	// tx runs the messenger's writes (see internal/txn): channels are
	// locked in the order a change reaches them, and custom groups that
	// include each other can be reached from both ends at once, so a
	// deadlock victim is run again.
	tx *txn.Runner
	// consent is the contact policy an SMS copy is checked against (see
	// WithConsent).
	consent *consent.Service
	// announced are the running transactions tx announced as message
	// writers when they began (PostgreSQL).
	announced announcedTxs
}

// New returns the messenger over client, publishing events on bus.
func New(client *ent.Client, bus pubsub.Bus, log *slog.Logger, cfg Config) *Service {
	if cfg.HideAfter <= 0 {
		cfg.HideAfter = DefaultHideAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{client: client, bus: bus, log: log, cfg: cfg, tx: txn.New(client, bus, log)}
	if cfg.Dialect.IsPostgres() {
		// Announced before anything is written, so the transaction's id
		// is taken after the stream horizon can see it (see advance).
		// The announcement travels with BEGIN, in its round trip.
		s.tx.OnBegin(s.announced.begin).BeginWith(announcement)
	}
	return s
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// HideAfter is the configured idle time of the channel-list rule.
func (s *Service) HideAfter() time.Duration { return s.cfg.HideAfter }

// Now is the messenger's clock.
func (s *Service) Now() time.Time { return s.now() }

// system is the context for the messenger's own structural writes and the
// few reads the viewer's rules do not cover; why names the use (it is
// recorded with each privileged statement, see rule.LogPrivilegedUse).
func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "messenger: "+why)
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var ce *ent.ConstraintError
	return errors.As(err, &ce)
}
