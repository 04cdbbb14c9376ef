// Package outbox owns the delivery of outgoing SMS, email and letters. Each
// is a row written in the same transaction as its cause; a worker claims a
// row with a conditional update (so replicas never take the same row),
// commits "sending" before calling the provider, and records the outcome:
// sent, a retry with exponential backoff, failed, or — when a worker died
// mid-call — unknown, for a person to review rather than a second SMS.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Message is what a provider delivers.
type Message struct {
	ID             pulid.ID
	Channel        string // SMS, EMAIL or LETTER
	Recipient      string
	Subject        string
	Body           string
	IdempotencyKey string
	// Route is a letter's route: MAIL, EPOST or SAVE_FILE.
	Route string
	// UnsubscribeURL is an outreach email's signed one-click unsubscribe
	// link (RFC 8058), sent as List-Unsubscribe.
	UnsubscribeURL string
}

// Provider delivers one channel's messages.
type Provider interface {
	// Send delivers m and returns the provider's reference for it. An error
	// wrapping ErrPermanent will never succeed (a rejected number); one
	// wrapping ErrUnknown may or may not have been delivered (it is left
	// for review); any other error is retried.
	Send(ctx context.Context, m Message) (ref string, err error)
}

// ErrPermanent marks a delivery that must not be retried.
var ErrPermanent = errors.New("permanent delivery failure")

// Config tunes the worker.
type Config struct {
	// Providers by channel (SMS, EMAIL, LETTER); a channel without one is
	// delivered by the log provider.
	Providers map[string]Provider
	// MaxAttempts before a row fails for good (default 8).
	MaxAttempts int
	// Backoff is the first retry delay; each retry doubles it (default 10 s).
	Backoff time.Duration
	// StaleAfter is how long a row may stay "sending" before it is judged
	// abandoned by a crashed worker and marked unknown (default 5 minutes).
	StaleAfter time.Duration
	// PollInterval is how often the worker looks for due rows (default 1 s).
	PollInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Undelivered, when set, is told inside the transaction that records
	// it that a row ended failed or unknown (so its cause, an enrolment
	// step, can record why and act on it).
	Undelivered func(ctx context.Context, c *ent.Client, row pulid.ID, reason string) error
	// SendWindow, when set, is when a patient's SMS or email due at now
	// may leave: now inside the practice's send window, otherwise when it
	// next opens. A row due outside it (a retry, say) waits until then.
	SendWindow func(ctx context.Context, now time.Time) (time.Time, error)
	// Withhold, when set, is asked just before an SMS or email leaves
	// whether its recipient has opted out since it was queued (a STOP
	// texted overnight while the row waited for the send window). A
	// non-empty reason withholds it: the row fails with that reason, the
	// provider is never called, and Withhold is expected to have told the
	// row's cause, through c, in the transaction that records it.
	Withhold func(ctx context.Context, c *ent.Client, row *ent.OutboxMessage) (reason string, err error)
}

// Worker delivers outbox rows.
type Worker struct {
	client *ent.Client
	log    *slog.Logger
	cfg    Config
	wake   chan struct{}
}

// New returns a worker over client.
func New(client *ent.Client, log *slog.Logger, cfg Config) *Worker {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Providers == nil {
		cfg.Providers = map[string]Provider{}
	}
	return &Worker{client: client, log: log, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake asks the worker to look for due rows now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends; panics are recovered and the loop goes on.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		w.safeRun(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

func (w *Worker) safeRun(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic in outbox worker", apperr.PanicAttrs(r)...)
		}
	}()
	if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("outbox delivery", "err", err)
	}
}

func system(ctx context.Context) context.Context { return viewer.NewSystemContext(ctx, "outbox") }

func (w *Worker) now() time.Time { return w.cfg.Now().UTC() }

// RunOnce delivers every row that is due and reports how many it attempted.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	ctx = system(ctx)
	now := w.now()
	// Rows left "sending" by a worker that died mid-call may or may not have
	// reached the provider: never guess, mark them for review.
	if err := w.abandon(ctx, now); err != nil {
		return 0, err
	}
	attempted := 0
	for {
		due, err := w.client.OutboxMessage.Query().
			Where(outboxmessage.StatusEQ(outboxmessage.StatusPENDING), outboxmessage.NextAttemptAtLTE(now)).
			Order(ent.Asc(outboxmessage.FieldNextAttemptAt)).
			Limit(50).
			All(ctx)
		if err != nil {
			return attempted, err
		}
		claimedAny := false
		for _, row := range due {
			ok, err := w.deliver(ctx, row)
			if err != nil {
				return attempted, err
			}
			if ok {
				attempted++
				claimedAny = true
			}
		}
		if len(due) < 50 || !claimedAny || ctx.Err() != nil {
			return attempted, ctx.Err()
		}
	}
}

// deliver claims one row and sends it; false means another worker had it.
func (w *Worker) deliver(ctx context.Context, row *ent.OutboxMessage) (bool, error) {
	now := w.now()
	if row.PatientFacing && w.cfg.SendWindow != nil {
		next, err := w.cfg.SendWindow(ctx, now)
		if err != nil {
			return false, err
		}
		if next.After(now) {
			// Outside the window: the row waits for it, visibly.
			return false, w.client.OutboxMessage.Update().
				Where(outboxmessage.ID(row.ID), outboxmessage.StatusEQ(outboxmessage.StatusPENDING)).
				SetNextAttemptAt(next).SetHeldUntil(next).Exec(ctx)
		}
	}
	if w.cfg.Withhold != nil && row.Channel != outboxmessage.ChannelLETTER {
		if withheld, err := w.withhold(ctx, row); withheld || err != nil {
			return withheld, err
		}
	}
	// The claim is a conditional update, committed before the provider is
	// called: of several workers, exactly one sees RowsAffected = 1.
	n, err := w.client.OutboxMessage.Update().
		Where(outboxmessage.ID(row.ID), outboxmessage.StatusEQ(outboxmessage.StatusPENDING)).
		SetStatus(outboxmessage.StatusSENDING).
		AddAttempts(1).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil || n != 1 {
		return false, err
	}
	attempts := row.Attempts + 1
	p := w.cfg.Providers[string(row.Channel)]
	if p == nil {
		p = LogProvider{Log: w.log}
	}
	route := ""
	if row.Route != nil {
		route = string(*row.Route)
	}
	ref, sendErr := p.Send(ctx, Message{
		Route:          route,
		ID:             row.ID,
		Channel:        string(row.Channel),
		Recipient:      row.Recipient,
		Subject:        row.Subject,
		Body:           row.Body,
		IdempotencyKey: row.IdempotencyKey,
		UnsubscribeURL: row.UnsubscribeURL,
	})
	// A transaction of its own rather than internal/txn: when the cause's
	// hook fails, this one is rolled back and the outcome recorded alone
	// (recordAlone), which a run-or-roll-back helper cannot express, and it
	// publishes no events.
	tx, err := w.client.Tx(system(context.WithoutCancel(ctx)))
	if err != nil {
		return true, fmt.Errorf("recording delivery outcome: %w", err)
	}
	upd := tx.OutboxMessage.UpdateOneID(row.ID)
	undelivered := ""
	switch {
	case sendErr == nil:
		upd.SetStatus(outboxmessage.StatusSENT).SetProviderRef(ref).SetSentAt(w.now()).SetLastError("")
	case errors.Is(sendErr, ErrUnknown):
		upd.SetStatus(outboxmessage.StatusUNKNOWN).SetLastError(truncate(sendErr.Error(), 1000))
		undelivered = "delivery unknown, left for review: " + sendErr.Error()
		w.log.Warn("outbox delivery outcome unknown; left for review", "row", row.ID, "channel", row.Channel)
	case errors.Is(sendErr, ErrPermanent) || attempts >= w.cfg.MaxAttempts:
		upd.SetStatus(outboxmessage.StatusFAILED).SetLastError(truncate(sendErr.Error(), 1000))
		undelivered = "delivery failed: " + sendErr.Error()
		w.log.Warn("outbox delivery failed", "row", row.ID, "channel", row.Channel, "attempts", attempts)
	default:
		upd.SetStatus(outboxmessage.StatusPENDING).
			SetNextAttemptAt(w.now().Add(w.backoff(attempts))).
			SetLastError(truncate(sendErr.Error(), 1000))
	}
	// The outcome must be recorded even if the worker is stopping, and even
	// if the cause's hook fails: the provider has answered, and a row left
	// "sending" would later be judged abandoned and hide that answer.
	octx := system(context.WithoutCancel(ctx))
	if err := upd.Exec(octx); err != nil {
		_ = tx.Rollback()
		return true, fmt.Errorf("recording delivery outcome: %w", err)
	}
	if undelivered != "" && w.cfg.Undelivered != nil {
		if err := w.cfg.Undelivered(octx, tx.Client(), row.ID, truncate(undelivered, 1000)); err != nil {
			_ = tx.Rollback()
			w.log.Error("outbox: telling the cause of an undelivered row failed; the outcome is recorded alone", "row", row.ID, "err", err)
			return true, w.recordAlone(octx, row.ID, upd.Mutation())
		}
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("recording delivery outcome: %w", err)
	}
	return true, nil
}

// withhold fails a pending row whose recipient opted out since it was
// queued, without calling the provider; false means it may go.
func (w *Worker) withhold(ctx context.Context, row *ent.OutboxMessage) (bool, error) {
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	reason, err := w.cfg.Withhold(ctx, tx.Client(), row)
	if err == nil && reason != "" {
		var n int
		n, err = tx.OutboxMessage.Update().
			Where(outboxmessage.ID(row.ID), outboxmessage.StatusEQ(outboxmessage.StatusPENDING)).
			SetStatus(outboxmessage.StatusFAILED).SetLastError(truncate("withheld: "+reason, 1000)).SetUpdatedAt(w.now()).
			Save(ctx)
		if err == nil && n != 1 {
			reason = "" // another worker has it
		}
	}
	if err != nil || reason == "" {
		_ = tx.Rollback()
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	w.log.Info("outbox: withheld a message whose recipient opted out", "row", row.ID, "channel", row.Channel)
	return true, nil
}

// recordAlone records a delivery outcome without the hook whose failure
// rolled back the first attempt, copying the fields that attempt set.
func (w *Worker) recordAlone(ctx context.Context, id pulid.ID, m *ent.OutboxMessageMutation) error {
	upd := w.client.OutboxMessage.UpdateOneID(id)
	if v, ok := m.Status(); ok {
		upd.SetStatus(v)
	}
	if v, ok := m.ProviderRef(); ok {
		upd.SetProviderRef(v)
	}
	if v, ok := m.SentAt(); ok {
		upd.SetSentAt(v)
	}
	if v, ok := m.LastError(); ok {
		upd.SetLastError(v)
	}
	if v, ok := m.NextAttemptAt(); ok {
		upd.SetNextAttemptAt(v)
	}
	if err := upd.Exec(ctx); err != nil {
		return fmt.Errorf("recording delivery outcome: %w", err)
	}
	return nil
}

// abandon marks rows left "sending" longer than StaleAfter unknown. Each is
// claimed with a conditional update (so of several workers one marks it)
// and its cause is told in the same transaction, so the enrolment step
// that queued it is marked FAILED like any other undelivered row. A row
// whose hook fails stays "sending" and is tried again on the next poll.
func (w *Worker) abandon(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-w.cfg.StaleAfter)
	stale, err := w.client.OutboxMessage.Query().
		Where(outboxmessage.StatusEQ(outboxmessage.StatusSENDING), outboxmessage.UpdatedAtLT(cutoff)).
		IDs(ctx)
	if err != nil {
		return err
	}
	const reason = "the worker stopped while sending; check with the provider before resending"
	marked := 0
	for _, id := range stale {
		ok, err := w.abandonOne(ctx, id, cutoff, reason)
		if err != nil {
			w.log.Error("outbox: marking an abandoned row unknown failed", "row", id, "err", err)
			continue
		}
		if ok {
			marked++
		}
	}
	if marked > 0 {
		w.log.Warn("outbox rows abandoned mid-send marked unknown", "rows", marked)
	}
	return nil
}

// abandonOne claims one stale row; false means another worker had it (or
// it is no longer stale).
func (w *Worker) abandonOne(ctx context.Context, id pulid.ID, cutoff time.Time, reason string) (bool, error) {
	// A claim, not a write through internal/txn: losing the row to another
	// worker (n != 1) rolls back without an error, and nothing is published.
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	n, err := tx.OutboxMessage.Update().
		Where(outboxmessage.ID(id), outboxmessage.StatusEQ(outboxmessage.StatusSENDING), outboxmessage.UpdatedAtLT(cutoff)).
		SetStatus(outboxmessage.StatusUNKNOWN).
		SetLastError(reason).
		Save(ctx)
	if err == nil && n == 1 && w.cfg.Undelivered != nil {
		err = w.cfg.Undelivered(ctx, tx.Client(), id, "delivery unknown, left for review: "+reason)
	}
	if err != nil || n != 1 {
		_ = tx.Rollback()
		return false, err
	}
	return true, tx.Commit()
}

// backoff doubles per attempt, with jitter so retries from many rows spread.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.Backoff << min(attempts-1, 16)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// LogProvider is the zero-configuration provider: it records that a
// message would have been delivered, without its body or full recipient
// (which may identify a patient).
type LogProvider struct{ Log *slog.Logger }

// Send implements Provider.
func (p LogProvider) Send(ctx context.Context, m Message) (string, error) {
	p.Log.InfoContext(ctx, "outbox: delivered by the log provider", "row", m.ID, "channel", m.Channel, "to", mask(m.Recipient))
	return "log:" + string(m.ID), nil
}

// mask keeps the last three characters of a recipient.
func mask(s string) string {
	if len(s) <= 3 {
		return "***"
	}
	return "***" + s[len(s)-3:]
}
