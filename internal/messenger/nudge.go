package messenger

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/settings"
)

// DefaultNudgeAfter is how long a staff message may stay unread by the
// patient before the patient is nudged (WHISPER_PATIENT_NUDGE_AFTER).
const DefaultNudgeAfter = 15 * time.Minute

// NudgeConsent decides whether the patient may be contacted on channel
// ("SMS" or "EMAIL") for a nudge. It is the hook for the consent policy of
// SPEC §13 (OPTED_OUT blocks the channel; UNKNOWN and OPTED_IN allow a
// nudge); internal/app wires in consent.MayContact. It reads through c as
// the nudge worker.
type NudgeConsent func(ctx context.Context, c *ent.Client, p *ent.Patient, channel string) (bool, error)

// NudgeConfig tunes the nudge worker.
type NudgeConfig struct {
	// After is how long the oldest unread staff message waits before the
	// patient is nudged (default DefaultNudgeAfter).
	After time.Duration
	// Consent decides, per patient and channel, whether a nudge may go
	// (nil allows every channel with an address: tests of the worker
	// alone; the server sets the contact policy, see NudgeConsent).
	Consent NudgeConsent
	// Settings give the practice's name and calendar day (nil: the
	// defaults, UTC).
	Settings *settings.Service
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Nudges tells portal patients that staff wrote to them (SPEC §12): when a
// staff message in one of their conversations stays unread for After, the
// patient gets one SMS — or, without a mobile, an email — with no clinical
// content, at most once per conversation per practice-local day, through
// the outbox (the row's idempotency key is that day, so replicas and
// retries agree).
type Nudges struct {
	client *ent.Client
	log    *slog.Logger
	cfg    NudgeConfig
}

// NewNudges returns the nudge worker over client.
func NewNudges(client *ent.Client, log *slog.Logger, cfg NudgeConfig) *Nudges {
	if cfg.After <= 0 {
		cfg.After = DefaultNudgeAfter
	}
	if cfg.Consent == nil {
		cfg.Consent = func(context.Context, *ent.Client, *ent.Patient, string) (bool, error) { return true, nil }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Nudges{client: client, log: log, cfg: cfg}
}

// Run nudges every interval until ctx ends, recovering from panics.
func (n *Nudges) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			func() {
				defer func() {
					if r := recover(); r != nil {
						n.log.Error("panic in patient nudges", apperr.PanicAttrs(r)...)
					}
				}()
				if _, err := n.RunOnce(ctx); err != nil && ctx.Err() == nil {
					n.log.Warn("patient nudges", "err", err)
				}
			}()
		}
	}
}

// RunOnce queues the nudges due now and reports how many it queued.
func (n *Nudges) RunOnce(ctx context.Context) (int, error) {
	sctx := system(ctx, "nudge portal patients about unread staff messages (no clinical content)")
	now := n.cfg.Now().UTC()
	cutoff := now.Add(-n.cfg.After)
	// Patient conversations the patient has not read up to a staff message
	// older than the cutoff.
	chans, err := n.client.Channel.Query().
		Where(channel.KindEQ(channel.KindPATIENT), channel.PatientIDNotNil(), func(sel *entsql.Selector) {
			m := entsql.Table(message.Table).As("nm")
			sel.Where(entsql.And(
				entsql.ColumnsLT(sel.C(channel.FieldPatientReadSeq), sel.C(channel.FieldLastSeq)),
				entsql.Exists(entsql.Select(m.C(message.FieldID)).From(m).Where(entsql.And(
					entsql.ColumnsEQ(m.C(message.FieldChannelID), sel.C(channel.FieldID)),
					entsql.ColumnsGT(m.C(message.FieldSeq), sel.C(channel.FieldPatientReadSeq)),
					entsql.NotNull(m.C(message.FieldSenderID)),
					entsql.LTE(m.C(message.FieldCreatedAt), cutoff),
				))),
			))
		}).
		WithPatient(func(q *ent.PatientQuery) { q.Where(patient.PortalPasswordHashNEQ("")) }).
		All(sctx)
	if err != nil {
		return 0, fmt.Errorf("finding conversations to nudge about: %w", err)
	}
	if len(chans) == 0 {
		return 0, nil
	}
	practice, err := n.cfg.Settings.Current(sctx, n.client)
	if err != nil {
		return 0, fmt.Errorf("reading the practice's settings: %w", err)
	}
	day := now.In(practice.Zone()).Format("2006-01-02")
	queued := 0
	for _, ch := range chans {
		p := ch.Edges.Patient
		if p == nil {
			continue // no portal access: nothing to sign in to
		}
		ok, err := n.nudge(sctx, ch, p, practice.Name, day)
		if err != nil {
			n.log.Warn("nudging a patient", "channel", ch.ID, "err", err)
			continue
		}
		if ok {
			queued++
		}
	}
	return queued, nil
}

// nudge queues one conversation's nudge for today unless it is queued
// already or the patient may not be contacted.
func (n *Nudges) nudge(ctx context.Context, ch *ent.Channel, p *ent.Patient, practice, day string) (bool, error) {
	key := "patient-nudge:" + string(ch.ID) + ":" + day
	done, err := n.client.OutboxMessage.Query().Where(outboxmessage.IdempotencyKey(key)).Exist(ctx)
	if err != nil || done {
		return false, err
	}
	// Never a word about the conversation itself: only who wrote.
	body := fmt.Sprintf("You have a new message from %s; sign in to read it.", practice)
	create := n.client.OutboxMessage.Create().SetIdempotencyKey(key).SetBody(body)
	// SMS first, email without a mobile or SMS consent; never a channel the
	// patient may not be contacted on.
	if to := trimmed(p.Mobile); to != "" {
		ok, err := n.cfg.Consent(ctx, n.client, p, "SMS")
		if err != nil {
			return false, err
		}
		if ok {
			create.SetChannel(outboxmessage.ChannelSMS).SetRecipient(to)
			return n.queue(ctx, create)
		}
	}
	if to := trimmed(p.Email); to != "" {
		ok, err := n.cfg.Consent(ctx, n.client, p, "EMAIL")
		if err != nil || !ok {
			return false, err
		}
		create.SetChannel(outboxmessage.ChannelEMAIL).SetRecipient(to).SetSubject("New message from " + practice)
		return n.queue(ctx, create)
	}
	return false, nil
}

func trimmed(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

// queue writes the nudge's outbox row; a row another replica wrote first
// under the same key counts as done.
func (n *Nudges) queue(ctx context.Context, create *ent.OutboxMessageCreate) (bool, error) {
	if err := create.Exec(ctx); err != nil {
		if isUnique(err) {
			return false, nil // another replica queued it first
		}
		return false, fmt.Errorf("queuing the nudge: %w", err)
	}
	return true, nil
}
