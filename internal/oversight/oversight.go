// Package oversight owns what administrators (WHISPER_ADMIN) see of others:
// observing a user — read-only, as that user — the audit log of every
// message and notification, and the access log of who opened patient data.
// It is the one place a request reads beyond its viewer's own rights, so
// every such read is checked here and recorded.
package oversight

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/trail"
	"log/slog"
	"slices"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/accesslogentry"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/membershipspan"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Service is the administrators' view.
type Service struct {
	client *ent.Client
	log    *slog.Logger
}

// New returns the oversight service.
func New(client *ent.Client, log *slog.Logger) *Service {
	return &Service{client: client, log: log}
}

// system is the context of oversight's own reads and writes (the access log,
// the audit page); why names the use.
func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "oversight: "+why)
}

// Observe returns a context that reads as the observed user — their
// channels, their messages, their unread counts — and can write nothing
// (the privacy policies deny every write under observation). The
// observation is recorded in the access log.
func (s *Service) Observe(ctx context.Context, userID pulid.ID) (context.Context, error) {
	v, err := rule.Admin.Check(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Query().Where(user.ID(userID), user.KindEQ(user.KindSTAFF)).WithSecurityGroups().Only(system(ctx, "load the observed user and their permissions"))
	if err != nil {
		return nil, err
	}
	if err := trail.Record(ctx, s.client, trail.Entry{Action: accesslogentry.ActionOBSERVE_USER, Actor: v.UserID, Subject: &u.ID}); err != nil {
		return nil, err
	}
	return viewer.NewContext(ctx, &viewer.Viewer{
		Kind:       viewer.Staff,
		UserID:     u.ID,
		Perms:      auth.EffectivePermissions(u),
		ObservedBy: v.UserID,
	}), nil
}

// ObserveMessages is the observeUser stream: the messages stream opens
// under an observation context (see Observe), and before each message is
// passed on the administrator's right to observe is checked again — still
// active, still WHISPER_ADMIN — so a revoked administrator stops seeing at
// once and the stream ends. (A revoked session or an expired token already
// ends the socket.)
func (s *Service) ObserveMessages(ctx context.Context, userID pulid.ID,
	open func(context.Context) (<-chan *ent.Message, error)) (<-chan *ent.Message, error) {
	v, err := rule.Admin.Check(ctx)
	if err != nil {
		return nil, err
	}
	octx, err := s.Observe(ctx, userID)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithCancel(octx)
	in, err := open(octx)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *ent.Message)
	go func() {
		defer close(out)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("observe stream panicked", apperr.PanicAttrs(r)...)
			}
		}()
		for {
			var m *ent.Message
			var ok bool
			select {
			case <-ctx.Done():
				return
			case m, ok = <-in:
				if !ok {
					return
				}
			}
			if !s.mayObserve(ctx, v.UserID) {
				return
			}
			if m.Edges.Channel == nil {
				// The stream leaves the channel to be read when delivered;
				// the administrator reads it as the observed user sees it
				// now (the one read-only context that may).
				ch, err := m.QueryChannel().Only(octx)
				if err != nil {
					continue // no longer theirs
				}
				c := *m
				c.Edges.Channel = ch
				m = &c
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// mayObserve reads the administrator's current rights from the database.
func (s *Service) mayObserve(ctx context.Context, adminID pulid.ID) bool {
	u, err := s.client.User.Query().Where(user.ID(adminID)).WithSecurityGroups().Only(system(ctx, "re-check that the observing administrator still holds WHISPER_ADMIN"))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("re-checking an observer", "err", err)
		}
		return false
	}
	return u.Active && auth.EffectivePermissions(u)[viewer.WhisperAdmin]
}

// AccessFilter narrows the access log.
type AccessFilter struct {
	ActorID, PatientID, UserID *pulid.ID
	From, To                   *time.Time
}

// AccessLog is the query of the access log (WHISPER_ADMIN, by policy too).
func (s *Service) AccessLog(ctx context.Context, f AccessFilter) (*ent.AccessLogEntryQuery, error) {
	if _, err := rule.Admin.Check(ctx); err != nil {
		return nil, err
	}
	q := s.client.AccessLogEntry.Query()
	if f.ActorID != nil {
		q.Where(accesslogentry.ActorID(*f.ActorID))
	}
	if f.PatientID != nil {
		q.Where(accesslogentry.PatientID(*f.PatientID))
	}
	if f.UserID != nil {
		q.Where(accesslogentry.SubjectUserID(*f.UserID))
	}
	if f.From != nil {
		q.Where(accesslogentry.AtGTE(*f.From))
	}
	if f.To != nil {
		q.Where(accesslogentry.AtLT(*f.To))
	}
	return q, nil
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	Text                             string
	SenderID, RecipientID, PatientID *pulid.ID
	ChannelKinds                     []channel.Kind
	From, To                         *time.Time
	// SkipTotal leaves AuditConnection.TotalCount at 0: counting every
	// match of a broad filter over millions of rows costs far more than a
	// page, so it is done only for callers that show it.
	SkipTotal bool
}

// AuditEntry is one message or notification as the audit page shows it.
type AuditEntry struct {
	ID         pulid.ID
	At         time.Time
	Kind       string // MESSAGE or NOTIFICATION
	Sender     *ent.User
	Body       string
	Channel    *ent.Channel
	Recipients []*ent.User
	Patients   []*ent.Patient
}

// IsNode marks AuditEntry as a GraphQL Node.
func (AuditEntry) IsNode() {}

// AuditEdge is one entry with its cursor.
type AuditEdge struct {
	Node   *AuditEntry
	Cursor ent.Cursor
}

// AuditConnection is a page of the audit log.
type AuditConnection struct {
	Edges      []*AuditEdge
	PageInfo   ent.PageInfo
	TotalCount int
}

// Audit lists every message and notification matching f, newest first,
// first at a time after the cursor. Both tables are read by the oversight
// worker after checking the viewer is an administrator; the search itself
// is recorded in the access log.
func (s *Service) Audit(ctx context.Context, f AuditFilter, first int, after *ent.Cursor) (*AuditConnection, error) {
	v, err := rule.Admin.Check(ctx)
	if err != nil {
		return nil, err
	}
	if err := trail.Record(ctx, s.client, trail.Entry{Action: accesslogentry.ActionAUDIT_SEARCH, Actor: v.UserID, Patient: f.PatientID, Subject: f.RecipientID}); err != nil {
		return nil, err
	}
	sctx := system(ctx, "read every message and notification for the audit page")
	mq := s.client.Message.Query()
	if t := strings.TrimSpace(f.Text); t != "" {
		mq.Where(message.BodyContainsFold(t))
	}
	if f.SenderID != nil {
		mq.Where(message.SenderID(*f.SenderID))
	}
	if f.RecipientID != nil {
		mq.Where(receivedBy(*f.RecipientID))
	}
	if f.PatientID != nil {
		mq.Where(aboutPatient(*f.PatientID))
	}
	if len(f.ChannelKinds) > 0 {
		mq.Where(inChannelKinds(f.ChannelKinds))
	}
	if f.From != nil {
		mq.Where(message.CreatedAtGTE(*f.From))
	}
	if f.To != nil {
		mq.Where(message.CreatedAtLT(*f.To))
	}
	nq := s.client.Notification.Query()
	if t := strings.TrimSpace(f.Text); t != "" {
		nq.Where(notification.Or(notification.TitleContainsFold(t), notification.BodyContainsFold(t)))
	}
	if f.SenderID != nil {
		nq.Where(notification.FromID(*f.SenderID))
	}
	if f.RecipientID != nil {
		nq.Where(notification.RecipientID(*f.RecipientID))
	}
	if f.PatientID != nil {
		nq.Where(notification.PatientID(*f.PatientID))
	}
	withNotes := len(f.ChannelKinds) == 0 || slices.Contains(f.ChannelKinds, channel.KindARRIVAL)
	if len(f.ChannelKinds) > 0 {
		nq.Where(notification.KindEQ(notification.KindARRIVAL))
	}
	if f.From != nil {
		nq.Where(notification.CreatedAtGTE(*f.From))
	}
	if f.To != nil {
		nq.Where(notification.CreatedAtLT(*f.To))
	}
	var total int
	if !f.SkipTotal {
		if total, err = mq.Clone().Count(sctx); err != nil {
			return nil, err
		}
		if withNotes {
			n, err := nq.Clone().Count(sctx)
			if err != nil {
				return nil, err
			}
			total += n
		}
	}
	// Keyset pagination, newest first: (created_at, id) below the cursor.
	before := func(col, idcol string) func(*entsql.Selector) {
		return func(sel *entsql.Selector) {
			if after == nil {
				return
			}
			at, _ := after.Value.(time.Time)
			if s, ok := after.Value.(string); ok {
				at, _ = time.Parse(time.RFC3339Nano, s)
			}
			sel.Where(entsql.Or(
				entsql.LT(sel.C(col), at),
				entsql.And(entsql.EQ(sel.C(col), at), entsql.LT(sel.C(idcol), string(after.ID))),
			))
		}
	}
	msgs, err := mq.Where(before(message.FieldCreatedAt, message.FieldID)).
		Order(ent.Desc(message.FieldCreatedAt), ent.Desc(message.FieldID)).
		Limit(first + 1).
		WithSender().WithChannel().WithPatients().
		All(sctx)
	if err != nil {
		return nil, err
	}
	var notes []*ent.Notification
	if withNotes {
		notes, err = nq.Where(before(notification.FieldCreatedAt, notification.FieldID)).
			Order(ent.Desc(notification.FieldCreatedAt), ent.Desc(notification.FieldID)).
			Limit(first + 1).
			WithFrom().WithPatient().WithRecipient().
			All(sctx)
		if err != nil {
			return nil, err
		}
	}
	var entries []*AuditEntry
	for _, m := range msgs {
		e := &AuditEntry{ID: m.ID, At: m.CreatedAt, Kind: "MESSAGE", Sender: m.Edges.Sender, Body: m.Body,
			Channel: m.Edges.Channel, Patients: m.Edges.Patients}
		entries = append(entries, e)
	}
	for _, n := range notes {
		body := n.Title
		if n.Body != nil && *n.Body != "" {
			body += "\n" + *n.Body
		}
		e := &AuditEntry{ID: n.ID, At: n.CreatedAt, Kind: "NOTIFICATION", Sender: n.Edges.From, Body: body,
			Recipients: []*ent.User{n.Edges.Recipient}}
		if n.Edges.Patient != nil {
			e.Patients = []*ent.Patient{n.Edges.Patient}
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *AuditEntry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	conn := &AuditConnection{TotalCount: total}
	if len(entries) > first {
		entries = entries[:first]
		conn.PageInfo.HasNextPage = true
	}
	conn.PageInfo.HasPreviousPage = after != nil
	if err := s.messageRecipients(sctx, entries, msgs); err != nil {
		return nil, err
	}
	for _, e := range entries {
		c := ent.Cursor{ID: e.ID, Value: e.At.UTC().Format(time.RFC3339Nano)}
		conn.Edges = append(conn.Edges, &AuditEdge{Node: e, Cursor: c})
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// receivedBy matches the messages a user received: sent by someone else
// into a channel while the user was a member (by the channel's membership
// history, so a member who left later still received what came before).
func receivedBy(userID pulid.ID) func(*entsql.Selector) {
	return func(sel *entsql.Selector) {
		d := entsql.Dialect(sel.Dialect())
		spans := d.Table(membershipspan.Table).As("received_span")
		sub := d.Select(spans.C(membershipspan.FieldID)).From(spans).Where(entsql.And(
			entsql.ColumnsEQ(spans.C(membershipspan.FieldChannelID), sel.C(message.FieldChannelID)),
			entsql.EQ(spans.C(membershipspan.FieldUserID), string(userID)),
			entsql.ColumnsLT(spans.C(membershipspan.FieldJoinedSeq), sel.C(message.FieldSeq)),
			entsql.Or(
				entsql.IsNull(spans.C(membershipspan.FieldLeftSeq)),
				entsql.ColumnsGTE(spans.C(membershipspan.FieldLeftSeq), sel.C(message.FieldSeq)),
			),
		))
		sel.Where(entsql.And(
			entsql.Exists(sub),
			entsql.Or(entsql.IsNull(sel.C(message.FieldSenderID)), entsql.NEQ(sel.C(message.FieldSenderID), string(userID))),
		))
	}
}

// messageRecipients fills in who received each message of a page: the
// channel's members at the message's position (membership history), other
// than its sender.
func (s *Service) messageRecipients(ctx context.Context, entries []*AuditEntry, msgs []*ent.Message) error {
	byID := map[pulid.ID]*ent.Message{}
	var chans []pulid.ID
	for _, m := range msgs {
		byID[m.ID] = m
		chans = append(chans, m.ChannelID)
	}
	if len(chans) == 0 {
		return nil
	}
	spans, err := s.client.MembershipSpan.Query().
		Where(membershipspan.ChannelIDIn(pulid.Dedupe(chans)...)).
		Order(ent.Asc(membershipspan.FieldCreatedAt), ent.Asc(membershipspan.FieldID)).
		All(ctx)
	if err != nil {
		return err
	}
	byChan := map[pulid.ID][]*ent.MembershipSpan{}
	var userIDs []pulid.ID
	for _, sp := range spans {
		byChan[sp.ChannelID] = append(byChan[sp.ChannelID], sp)
		userIDs = append(userIDs, sp.UserID)
	}
	users, err := s.client.User.Query().Where(user.IDIn(pulid.Dedupe(userIDs)...)).All(ctx)
	if err != nil {
		return err
	}
	userByID := map[pulid.ID]*ent.User{}
	for _, u := range users {
		userByID[u.ID] = u
	}
	for _, e := range entries {
		m := byID[e.ID]
		if m == nil {
			continue
		}
		seen := map[pulid.ID]bool{}
		for _, sp := range byChan[m.ChannelID] {
			if sp.JoinedSeq >= m.Seq || (sp.LeftSeq != nil && *sp.LeftSeq < m.Seq) || seen[sp.UserID] {
				continue
			}
			if m.SenderID != nil && *m.SenderID == sp.UserID {
				continue
			}
			if u := userByID[sp.UserID]; u != nil {
				seen[sp.UserID] = true
				e.Recipients = append(e.Recipients, u)
			}
		}
	}
	return nil
}

// aboutPatient matches the messages that link a patient or are in that
// patient's conversation. It is written as one IN over a UNION, which
// PostgreSQL answers from the message_patients and channel indexes; the
// OR of two correlated subqueries ent would write scans every message.
func aboutPatient(patientID pulid.ID) func(*entsql.Selector) {
	return func(sel *entsql.Selector) {
		d := entsql.Dialect(sel.Dialect())
		links := d.Table(message.PatientsTable).As("audit_links")
		linked := d.Select(links.C(message.PatientsPrimaryKey[0])).From(links).
			Where(entsql.EQ(links.C(message.PatientsPrimaryKey[1]), string(patientID)))
		chans := d.Table(channel.Table).As("audit_patient_channels")
		msgs := d.Table(message.Table).As("audit_patient_messages")
		inChannel := d.Select(msgs.C(message.FieldID)).From(msgs).
			Where(entsql.In(msgs.C(message.FieldChannelID),
				d.Select(chans.C(channel.FieldID)).From(chans).Where(entsql.EQ(chans.C(channel.FieldPatientID), string(patientID)))))
		sel.Where(entsql.In(sel.C(message.FieldID), linked.UnionAll(inChannel)))
	}
}

// inChannelKinds matches the messages in channels of the given kinds.
func inChannelKinds(kinds []channel.Kind) func(*entsql.Selector) {
	return func(sel *entsql.Selector) {
		d := entsql.Dialect(sel.Dialect())
		chans := d.Table(channel.Table).As("audit_kind_channels")
		vs := make([]any, len(kinds))
		for i, k := range kinds {
			vs[i] = string(k)
		}
		sel.Where(entsql.In(sel.C(message.FieldChannelID),
			d.Select(chans.C(channel.FieldID)).From(chans).Where(entsql.In(chans.C(channel.FieldKind), vs...))))
	}
}
