// Package trail owns Whisper's audit trail of access: the access log (who
// read which patient record or patient-linked conversation, who observed
// whom, who searched the audit page) — append-only for everyone, workers
// included — and the channel membership history the audit page resolves a
// message's recipients from. The ent schema installs its hooks and its
// interceptor; oversight reads what it records.
package trail

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent"

	gen "github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/accesslogentry"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// AppendOnly refuses every update and delete, whoever asks — background
// workers included, which the privacy policies otherwise let through. It is
// the access log's guarantee that what was recorded stays recorded.
func AppendOnly() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate) {
				return nil, apperr.New(apperr.Forbidden, "%s rows are append-only", m.Type())
			}
			return next.Mutate(ctx, m)
		})
	}
}

// Entry is one access-log line to append.
type Entry struct {
	Action accesslogentry.Action
	// Actor is who accessed: the administrator when observing.
	Actor pulid.ID
	// Patient, Channel and Subject name what was accessed, where they apply.
	Patient, Channel, Subject *pulid.ID
}

// Record appends entries to the access log, as the trail's own worker (no
// viewer may write the log), stamped now.
func Record(ctx context.Context, client *gen.Client, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	at := time.Now().UTC()
	builders := make([]*gen.AccessLogEntryCreate, len(entries))
	for i, e := range entries {
		builders[i] = client.AccessLogEntry.Create().
			SetAction(e.Action).
			SetActorID(e.Actor).
			SetNillablePatientID(e.Patient).
			SetNillableChannelID(e.Channel).
			SetNillableSubjectUserID(e.Subject).
			SetAt(at)
	}
	if err := client.AccessLogEntry.CreateBulk(builders...).Exec(viewer.NewSystemContext(ctx, "trail: append to the access log")); err != nil {
		return fmt.Errorf("recording access: %w", err)
	}
	return nil
}

// Actor is who is really acting in ctx for the access log: the
// administrator when observing, otherwise the staff user or service
// account; false for anyone else (patients reading their own record).
func Actor(ctx context.Context) (pulid.ID, bool) {
	v := viewer.FromContext(ctx)
	if !rule.Account.Holds(v) {
		return "", false
	}
	if v.ObservedBy != "" {
		return v.ObservedBy, true
	}
	return v.UserID, true
}

// OpenedChannel records that the viewer opened a conversation that concerns
// a patient: a patient conversation, or one where a message links a
// patient. Other conversations are not recorded.
func OpenedChannel(ctx context.Context, client *gen.Client, channelID pulid.ID) error {
	who, ok := Actor(ctx)
	if !ok {
		return nil
	}
	sctx := viewer.NewSystemContext(ctx, "trail: find the patient an opened conversation concerns")
	ch, err := client.Channel.Get(sctx, channelID)
	if err != nil {
		return err
	}
	linked := ch.PatientID
	if linked == nil {
		p, err := client.Message.Query().
			Where(message.ChannelID(channelID), message.HasPatients()).
			QueryPatients().
			First(sctx)
		if err != nil && !gen.IsNotFound(err) {
			return err
		}
		if p != nil {
			linked = &p.ID
		}
	}
	if linked == nil {
		return nil
	}
	return Record(ctx, client, Entry{Action: accesslogentry.ActionOPEN_PATIENT_CONVERSATION, Actor: who, Patient: linked, Channel: &channelID})
}
