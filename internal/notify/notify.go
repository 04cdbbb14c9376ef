// Package notify owns the message-board folders: notifications of every
// kind (arrivals, lab reports, reminders, …) delivered per recipient,
// acknowledged per recipient, and announced live; patient arrivals; and the
// practice-wide alert channel.
package notify

import (
	"context"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"log/slog"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Service sends and keeps notifications.
type Service struct {
	client *ent.Client
	bus    pubsub.Bus
	msgr   *messenger.Service
	log    *slog.Logger
	now    func() time.Time
	tx     *txn.Runner
	// practice is the practice's settings: arrival texts are on its clock
	// (UTC without them).
	practice *settings.Service
}

// New returns the notification service.
func New(client *ent.Client, bus pubsub.Bus, msgr *messenger.Service, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, bus: bus, msgr: msgr, log: log, now: now, tx: txn.New(client, bus, log)}
}

// WithSettings has the service write times people read (an arrival's
// booking time) on the practice's clock, read from p when each is written.
func (s *Service) WithSettings(p *settings.Service) *Service {
	s.practice = p
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC() }

func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, why)
}

// announce is the event that tells a recipient's streams about a
// notification.
func announce(n *ent.Notification) pubsub.Event {
	return pubsub.Event{Kind: pubsub.Notification, Users: []pulid.ID{n.RecipientID}, Message: n.ID}
}

// Arrived notifies a booking's doctor that their patient has arrived — if
// the doctor has patient-arrived alerts on — once per booking (the dedupe
// key is the booking, however often the status is pushed or goes back and
// forth). It
// runs inside the status change's transaction, as the arrivals worker: the
// receptionist who marks an arrival may not otherwise notify a doctor.
func (s *Service) Arrived(ctx context.Context, c *ent.Client, b *ent.Booking, markedBy *pulid.ID) ([]pubsub.Event, error) {
	sctx := system(ctx, "arrivals")
	doctor, err := c.User.Get(sctx, b.DoctorID)
	if err != nil {
		return nil, err
	}
	if !doctor.PatientArrivedAlerts {
		return nil, nil
	}
	// One arrival per booking: a status pushed again, or a booking set back
	// to CHECKED_IN and then ARRIVED again, does not notify twice.
	key := "arrival:" + string(b.ID)
	if done, err := c.Notification.Query().
		Where(notification.RecipientID(doctor.ID), notification.DedupeKey(key)).
		Exist(sctx); err != nil || done {
		return nil, err
	}
	p, err := c.Patient.Get(sctx, b.PatientID)
	if err != nil {
		return nil, err
	}
	practice, err := s.practice.Current(sctx, c)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%s %s (%s) has arrived", p.FirstName, p.LastName, p.PatientNumber)
	body := "Booked for " + practice.In(b.StartsAt).Format("15:04 MST")
	if b.BookingTypeID != nil {
		if bt, err := c.BookingType.Get(sctx, *b.BookingTypeID); err == nil {
			body = bt.Name + ", " + strings.ToLower(body[:1]) + body[1:]
		}
	}
	n, err := c.Notification.Create().
		SetKind(notification.KindARRIVAL).
		SetRecipientID(doctor.ID).
		SetTitle(title).
		SetBody(body).
		SetPatientID(p.ID).
		SetBookingID(b.ID).
		SetNillableFromID(markedBy).
		SetDeliverAt(s.clock()).
		SetAnnouncedAt(s.clock()).
		SetDedupeKey(key).
		Save(sctx)
	if err != nil {
		return nil, fmt.Errorf("notifying arrival: %w", err)
	}
	return []pubsub.Event{announce(n)}, nil
}

// CreateInput is a notification to send.
type CreateInput struct {
	Kind             notification.Kind
	Title            string
	Body             *string
	UserIDs          []pulid.ID
	SecurityGroupIDs []pulid.ID
	PatientID        *pulid.ID
	DueAt            *time.Time
}

// Create sends a notification to active staff users and the active members
// of security groups (one row each), returned in input order: the named
// users first, then each group's members by name. Integrators and directory managers send any kind; anyone
// may set themself a REMINDER, which appears when it falls due.
func (s *Service) Create(ctx context.Context, in CreateInput) ([]*ent.Notification, error) {
	v, err := rule.NotificationWriter.Check(ctx)
	if err != nil {
		return nil, err
	}
	title := strings.TrimSpace(in.Title)
	if title == "" || len([]rune(title)) > 300 {
		return nil, apperr.Invalid("title", "a title is 1 to 300 characters")
	}
	if in.Body != nil && len([]rune(*in.Body)) > 10000 {
		return nil, apperr.Invalid("body", "a body is at most 10000 characters")
	}
	if in.Kind == notification.KindARRIVAL {
		return nil, apperr.Invalid("kind", "arrivals are announced by bookings, not sent by hand")
	}
	// Recipients in input order: the named users, then each group's
	// members; the first is the one the mutation returns.
	var recipients []pulid.ID
	seen := map[pulid.ID]bool{}
	addRecipient := func(id pulid.ID) {
		if !seen[id] {
			seen[id] = true
			recipients = append(recipients, id)
		}
	}
	for _, id := range in.UserIDs {
		addRecipient(id)
	}
	if len(in.UserIDs) == 0 && len(in.SecurityGroupIDs) == 0 {
		if in.Kind != notification.KindREMINDER {
			return nil, apperr.Invalid("userIDs", "name at least one user or security group")
		}
		addRecipient(v.UserID)
	}
	if len(in.UserIDs) > 0 {
		n, err := s.client.User.Query().
			Where(user.IDIn(in.UserIDs...), user.KindEQ(user.KindSTAFF), user.Active(true)).
			Count(ctx)
		if err != nil {
			return nil, err
		}
		if n != len(pulid.Dedupe(in.UserIDs)) {
			return nil, apperr.Invalid("userIDs", "unknown or inactive user")
		}
	}
	for _, g := range in.SecurityGroupIDs {
		members, err := s.client.User.Query().
			Where(user.HasSecurityGroupsWith(securitygroup.ID(g)), user.KindEQ(user.KindSTAFF), user.Active(true)).
			Order(ent.Asc(user.FieldName), ent.Asc(user.FieldID)).
			IDs(ctx)
		if err != nil {
			return nil, err
		}
		if ok, err := s.client.SecurityGroup.Query().Where(securitygroup.ID(g)).Exist(ctx); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperr.Invalid("securityGroupIDs", "unknown security group")
		}
		for _, m := range members {
			addRecipient(m)
		}
	}
	if in.PatientID != nil {
		if ok, err := s.client.Patient.Query().Where(patient.ID(*in.PatientID)).Exist(ctx); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperr.Invalid("patientID", "unknown patient")
		}
	}
	now := s.clock()
	deliver := now
	if in.Kind == notification.KindREMINDER && in.DueAt != nil && in.DueAt.After(now) {
		deliver = in.DueAt.UTC()
	}
	var dueAt *time.Time
	if in.DueAt != nil {
		d := in.DueAt.UTC()
		dueAt = &d
	}
	// Delivered now: announced with the commit. A reminder for later is
	// left to the reminders worker.
	var announced *time.Time
	if !deliver.After(now) {
		announced = &now
	}
	var out []*ent.Notification
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		out = out[:0] // a retried attempt starts over
		for _, r := range recipients {
			n, err := tx.Notification.Create().
				SetKind(in.Kind).
				SetRecipientID(r).
				SetTitle(title).
				SetNillableBody(in.Body).
				SetNillablePatientID(in.PatientID).
				SetFromID(v.UserID).
				SetNillableDueAt(dueAt).
				SetDeliverAt(deliver).
				SetNillableAnnouncedAt(announced).
				Save(ctx)
			if err != nil {
				return err
			}
			out = append(out, n.Unwrap())
			if !deliver.After(now) {
				emit(announce(n))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Acknowledge marks one of the viewer's notifications done; it leaves the
// live list for the history.
func (s *Service) Acknowledge(ctx context.Context, id pulid.ID) (*ent.Notification, error) {
	if _, err := rule.Messaging.Check(ctx); err != nil {
		return nil, err
	}
	n, err := s.client.Notification.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if n.AcknowledgedAt != nil {
		return n, nil
	}
	n, err = s.client.Notification.UpdateOne(n).SetAcknowledgedAt(s.clock()).Save(ctx)
	if err != nil {
		return nil, err
	}
	s.bus.Publish(ctx, pubsub.Event{Kind: pubsub.Notification, Users: []pulid.ID{n.RecipientID}, Change: "ACKNOWLEDGED"})
	return n, nil
}

// ListFilter narrows the viewer's notifications.
type ListFilter struct {
	Kinds               []notification.Kind
	IncludeAcknowledged bool
}

// List is the query of the viewer's folder: delivered notifications,
// unacknowledged unless asked, of some kinds, newest first.
func (s *Service) List(ctx context.Context, f ListFilter) *ent.NotificationQuery {
	q := s.client.Notification.Query().Where(notification.DeliverAtLTE(s.clock()))
	if len(f.Kinds) > 0 {
		q.Where(notification.KindIn(f.Kinds...))
	}
	if !f.IncludeAcknowledged {
		q.Where(notification.AcknowledgedAtIsNil())
	}
	return q
}

// Overdue reports whether a notification is past its due date and not done.
func (s *Service) Overdue(n *ent.Notification) bool {
	return n.DueAt != nil && n.AcknowledgedAt == nil && s.clock().After(*n.DueAt)
}

// ReplyToArrival answers an arrival: a message to the staff member who
// marked it, in their individual channel with the viewer.
func (s *Service) ReplyToArrival(ctx context.Context, id pulid.ID, body string) (*ent.Message, error) {
	if _, err := rule.Messaging.Check(ctx); err != nil {
		return nil, err
	}
	n, err := s.client.Notification.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if n.Kind != notification.KindARRIVAL {
		return nil, apperr.Invalid("notificationID", "only arrivals can be replied to")
	}
	if n.FromID == nil {
		return nil, apperr.Invalid("notificationID", "nobody marked this arrival; there is no one to reply to")
	}
	marker, err := s.client.User.Get(ctx, *n.FromID)
	if err != nil {
		return nil, err
	}
	if marker.Kind != user.KindSTAFF {
		return nil, apperr.Invalid("notificationID", "the practice system marked this arrival; there is no one to reply to")
	}
	ch, err := s.msgr.Open(ctx, messenger.OpenInput{UserIDs: []pulid.ID{marker.ID}})
	if err != nil {
		return nil, err
	}
	return s.msgr.Send(ctx, messenger.SendInput{ChannelID: ch.ID, Body: body})
}

// RunReminders announces reminders as they fall due, until ctx ends —
// including those that fell due while no replica was running. Each
// notification is claimed once, by a conditional update of announced_at,
// so with several replicas on one database it is announced by exactly one
// of them. A panic in one round is logged and the next round runs.
func (s *Service) RunReminders(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.announceDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reminderBatch bounds one round of the reminders worker.
const reminderBatch = 500

// announceDue claims and announces the notifications due by now that no
// replica has announced yet.
func (s *Service) announceDue(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("reminders worker panicked", apperr.PanicAttrs(r)...)
		}
	}()
	if ctx.Err() != nil {
		return
	}
	now := s.clock()
	sctx := system(ctx, "reminders")
	due, err := s.client.Notification.Query().
		Where(notification.AnnouncedAtIsNil(), notification.DeliverAtLTE(now)).
		Order(ent.Asc(notification.FieldDeliverAt), ent.Asc(notification.FieldID)).
		Limit(reminderBatch).
		All(sctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading due reminders", "err", err)
		}
		return
	}
	var events []pubsub.Event
	for _, n := range due {
		claimed, err := s.client.Notification.Update().
			Where(notification.ID(n.ID), notification.AnnouncedAtIsNil()).
			SetAnnouncedAt(now).
			Save(sctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("claiming a reminder", "err", err)
			}
			break
		}
		if claimed == 1 && n.AcknowledgedAt == nil {
			events = append(events, announce(n))
		}
	}
	s.bus.Publish(ctx, events...)
}

// SendAlert posts a practice-wide alert (WHISPER_ADMIN): a message in the
// alert channel, whose members are everyone with ACCESS_WHISPER.
func (s *Service) SendAlert(ctx context.Context, body string) (*ent.Message, error) {
	if _, err := rule.Admin.Check(ctx); err != nil {
		return nil, err
	}
	ch, err := s.msgr.EnsureAlertChannel(ctx)
	if err != nil {
		return nil, err
	}
	return s.msgr.Send(ctx, messenger.SendInput{ChannelID: ch.ID, Body: body})
}
