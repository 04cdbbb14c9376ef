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
	"fmt"
	"log/slog"
	"time"

	"github.com/lib/pq"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pubsub"
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
	// Postgres selects row locks (SELECT … FOR UPDATE) and transaction ids;
	// SQLite serialises writers itself.
	Postgres bool
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
}

// New returns the messenger over client, publishing events on bus.
func New(client *ent.Client, bus pubsub.Bus, log *slog.Logger, cfg Config) *Service {
	if cfg.HideAfter <= 0 {
		cfg.HideAfter = DefaultHideAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{client: client, bus: bus, log: log, cfg: cfg}
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

// tx runs fn in a transaction and publishes the events it collected once the
// transaction has committed (never inside it: a NOTIFY in the transaction
// would serialise every commit).
//
// A transaction PostgreSQL aborts as a deadlock victim or a serialisation
// failure is run again from the start (up to three times): channels are
// locked in the order the change reaches them, and custom groups that
// include each other can be reached from both ends at once. fn must
// therefore keep its state inside the call, as every caller does.
func (s *Service) tx(ctx context.Context, fn func(tx *ent.Tx, emit func(...pubsub.Event)) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if attempt < 3 && retryable(err) {
			s.log.InfoContext(ctx, "transaction aborted by the database; running it again", "attempt", attempt)
			continue
		}
		return err
	}
}

// retryable reports whether PostgreSQL aborted the transaction so that
// running it again can succeed (40P01 deadlock, 40001 serialisation).
func retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (s *Service) tryTx(ctx context.Context, fn func(tx *ent.Tx, emit func(...pubsub.Event)) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	var events []pubsub.Event
	emit := func(e ...pubsub.Event) { events = append(events, e...) }
	if err := fn(tx, emit); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			s.log.WarnContext(ctx, "rolling back", "err", rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	if len(events) > 0 {
		s.bus.Publish(ctx, events...)
	}
	return nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var ce *ent.ConstraintError
	return errors.As(err, &ce)
}
