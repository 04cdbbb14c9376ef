package messenger

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/viewer"
)

// MaxTopicLength bounds a patient conversation's topic, in characters.
const MaxTopicLength = 200

// StartPatientInput opens a patient conversation.
type StartPatientInput struct {
	PatientID pulid.ID
	Topic     string
	Body      string
}

// StartPatientConversation opens a PATIENT channel about one patient and a
// topic, with its first message from the viewer. The care team (every staff
// user with ACCESS_WHISPER) shares it: they see it and may post in it without
// being added. Only the starter is a member at first; others join (keeping
// their read mark) when they first post in it or read it.
func (s *Service) StartPatientConversation(ctx context.Context, in StartPatientInput) (*ent.Channel, error) {
	pv := viewer.FromContext(ctx)
	v, err := rule.Messaging.Check(ctx)
	if err != nil && !rule.PortalPatient.Holds(pv) {
		return nil, err
	}
	topic := strings.TrimSpace(in.Topic)
	switch n := utf8.RuneCountInString(topic); {
	case n == 0:
		return nil, apperr.Invalid("topic", "a patient conversation needs a topic")
	case n > MaxTopicLength:
		return nil, apperr.Invalid("topic", "a topic is at most %d characters (this one has %d)", MaxTopicLength, n)
	}
	body, err := validBody(in.Body)
	if err != nil {
		return nil, err
	}
	if rule.PortalPatient.Holds(pv) {
		return s.patientStart(ctx, pv, in, topic, body)
	}
	if in.PatientID == "" {
		return nil, apperr.Invalid("patientID", "name the patient the conversation is about")
	}
	var ch *ent.Channel
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		known, err := c.Patient.Query().Where(patient.ID(in.PatientID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !known {
			return apperr.Invalid("patientID", "unknown patient")
		}
		ch, err = c.Channel.Create().
			SetKind(channel.KindPATIENT).
			SetTopic(topic).
			SetPatientID(in.PatientID).
			SetLastActivityAt(s.now()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("creating patient conversation: %w", err)
		}
		if err := c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(v.UserID).Exec(ctx); err != nil {
			return fmt.Errorf("joining patient conversation: %w", err)
		}
		_, err = s.post(ctx, c, ch, c.Message.Create().
			SetSenderID(v.UserID).
			SetBody(body), emit)
		if err != nil {
			return err
		}
		// The patient's channelUpdated learns of it (the care team's streams
		// count every patient conversation; see internal/live).
		emit(changed(ch.ID, Created, []pulid.ID{v.UserID, in.PatientID}, nil))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.client.Channel.Get(ctx, ch.ID)
}

// joinPatientConversation makes the care-team viewer a member of the
// patient conversation id (read mark at seq), so their read state is kept
// like any member's. It reports false, writing nothing, when id is not a
// patient conversation the viewer sees.
func (s *Service) joinPatientConversation(ctx context.Context, c *ent.Client, v *viewer.Viewer, id pulid.ID, seq int64) (bool, error) {
	if !rule.Messaging.Holds(v) {
		return false, nil
	}
	shared, err := c.Channel.Query().Where(channel.ID(id), channel.KindEQ(channel.KindPATIENT)).Exist(ctx)
	if err != nil || !shared {
		return false, err
	}
	err = c.ChannelMember.Create().SetChannelID(id).SetUserID(v.UserID).SetLastReadSeq(seq).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("joining patient conversation: %w", err)
	}
	return true, nil
}

// ReadFilter narrows patient conversations by the viewer's read state.
type ReadFilter string

// The read filters.
const (
	ReadAll    ReadFilter = "ALL"
	ReadUnread ReadFilter = "UNREAD"
	ReadRead   ReadFilter = "READ"
)

// PatientFilter narrows the patient conversation list.
type PatientFilter struct {
	Read ReadFilter
	// Search matches every word against the topic, the patient's first or
	// last name, or their patient number.
	Search string
	// LastMessage loads each listed channel's newest message with the page.
	LastMessage bool
	// PatientID narrows the list to one patient's conversations (the
	// patient dashboard).
	PatientID *pulid.ID
}

// PatientConversations returns the query of the patient conversations the
// viewer shares as care team, with the viewer's read mark loaded for
// unreadCount. Read state is sequence arithmetic: a conversation is unread
// while its last_seq is above the viewer's read mark (no mark: nothing read).
func (s *Service) PatientConversations(ctx context.Context, f PatientFilter) (*ent.ChannelQuery, error) {
	if pv := viewer.FromContext(ctx); rule.PortalPatient.Holds(pv) {
		// A portal patient lists their own conversations (the privacy rules
		// filter to them), by their own read mark.
		if err := s.checkPatientFilter(ctx, f.PatientID); err != nil {
			return nil, err
		}
		return s.patientConversations(f), nil
	}
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkPatientFilter(ctx, f.PatientID); err != nil {
		return nil, err
	}
	uid := string(v.UserID)
	read := func(sel *entsql.Selector) *entsql.Predicate {
		m := entsql.Table(channelmember.Table).As("rm")
		return entsql.Exists(entsql.Select(m.C(channelmember.FieldID)).From(m).Where(entsql.And(
			entsql.ColumnsEQ(m.C(channelmember.FieldChannelID), sel.C(channel.FieldID)),
			entsql.EQ(m.C(channelmember.FieldUserID), uid),
			entsql.ColumnsGTE(m.C(channelmember.FieldLastReadSeq), sel.C(channel.FieldLastSeq)),
		)))
	}
	q := s.client.Channel.Query().
		Where(channel.KindEQ(channel.KindPATIENT)).
		WithMemberships(func(q *ent.ChannelMemberQuery) { q.Where(channelmember.UserID(v.UserID)) })
	switch f.Read {
	case ReadUnread:
		q.Where(func(sel *entsql.Selector) { sel.Where(entsql.Not(read(sel))) })
	case ReadRead:
		q.Where(func(sel *entsql.Selector) { sel.Where(read(sel)) })
	}
	searchPatientConversations(q, f.Search)
	if f.PatientID != nil {
		q.Where(channel.PatientID(*f.PatientID))
	}
	if f.LastMessage {
		withLastMessage(q)
	}
	return q, nil
}

// Stats are the patient-conversation figures of a dashboard.
type Stats struct {
	TotalConversations int
	UnreadMessages     int
	UniquePatients     int
	TotalMessages      int
}

// ConversationStats computes the viewer's patient-conversation figures from
// the channels' counters (message_count, last_seq) and the viewer's read
// marks in one statement: it reads one row per patient conversation, never
// the messages.
func (s *Service) ConversationStats(ctx context.Context) (*Stats, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	return PatientStats(ctx, s.client, s.cfg.Dialect, v.UserID)
}

// PatientStats is ConversationStats for the care-team user uid, read with
// client as it is (the caller has authorised uid); d selects the
// placeholder style. The live stream recomputes a subscriber's figures with
// it after each patient-conversation message or read.
func PatientStats(ctx context.Context, client *ent.Client, d store.Dialect, uid pulid.ID) (*Stats, error) {
	mark := "?"
	if d.IsPostgres() {
		mark = "$1"
	}
	q := "SELECT COUNT(*), COUNT(DISTINCT c.patient_id), COALESCE(SUM(c.message_count), 0), " +
		"COALESCE(SUM(CASE WHEN c.last_seq > COALESCE(m.last_read_seq, 0) THEN c.last_seq - COALESCE(m.last_read_seq, 0) ELSE 0 END), 0) " +
		"FROM channels c LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = " + mark + " " +
		"WHERE c.kind = 'PATIENT'"
	rows, err := client.QueryContext(ctx, q, string(uid))
	if err != nil {
		return nil, fmt.Errorf("computing conversation stats: %w", err)
	}
	defer rows.Close()
	var st Stats
	if rows.Next() {
		var total, patients, messages, unread int64
		if err := rows.Scan(&total, &patients, &messages, &unread); err != nil {
			return nil, fmt.Errorf("computing conversation stats: %w", err)
		}
		st = Stats{TotalConversations: int(total), UniquePatients: int(patients), TotalMessages: int(messages), UnreadMessages: int(unread)}
	}
	return &st, rows.Err()
}

// patientSend posts a portal patient's message in one of their own patient
// conversations: senderPatient is the patient, sender is empty. Patients
// post plain text only (no SMS copy, linked patients or reply); a retry
// with the same clientMessageID returns the first message, as for staff.
func (s *Service) patientSend(ctx context.Context, v *viewer.Viewer, in SendInput) (*ent.Message, error) {
	body, err := validBody(in.Body)
	if err != nil {
		return nil, err
	}
	if in.SMS || len(in.PatientIDs) > 0 || in.ReplyToID != nil {
		return nil, apperr.Invalid("input", "patients send the message text only")
	}
	clientID, err := clientMessageID(in)
	if err != nil {
		return nil, err
	}
	if clientID != "" {
		if m, err := s.sent(ctx, v, clientID, in.ChannelID); m != nil || err != nil {
			return m, err
		}
	}
	var msg *ent.Message
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		// Read as the patient: another conversation is not found. Reading
		// writes nothing, so advance still takes the channel lock first.
		ch, err := c.Channel.Query().Where(channel.ID(in.ChannelID)).Only(ctx)
		if err != nil {
			return err
		}
		if ch.Kind != channel.KindPATIENT {
			return apperr.New(apperr.Forbidden, "patients post only in their own conversations")
		}
		a, err := s.advance(ctx, c, ch.ID, "", false)
		if err != nil {
			return err
		}
		if !a.ok {
			return fmt.Errorf("advancing channel %s: not found", ch.ID)
		}
		create := c.Message.Create().
			SetSenderPatientID(v.PatientID).
			SetBody(body)
		if clientID != "" {
			create.SetClientMessageID(clientID)
		}
		msg, err = s.append(ctx, c, ch.ID, a, create, emit)
		if err != nil {
			return err
		}
		// The sender never has their own message unread.
		if _, err := movePatientReadMark(ctx, c, v, ch.ID, msg.Seq); err != nil {
			return err
		}
		return s.notifyOwner(ctx, c, ch, emit)
	})
	if isUnique(err) && clientID != "" {
		// A concurrent retry with the same clientMessageID won the race.
		if m, err := s.sent(ctx, v, clientID, in.ChannelID); m != nil || err != nil {
			return m, err
		}
	}
	if err != nil {
		return nil, err
	}
	s.patientAutoReply(ctx, msg.ChannelID)
	return msg.Unwrap(), nil
}

// patientAutoReply answers a patient's message with the patient auto-reply
// of the conversation's owner — the staff member who started it, or who
// first answered one the patient started (see owner) — at most once per conversation per day, like the
// staff auto-reply. It runs after the patient's message has committed, as
// the messenger; failures are logged, never returned.
func (s *Service) patientAutoReply(ctx context.Context, channelID pulid.ID) {
	sctx := system(ctx, "post the conversation owner's patient auto-reply")
	uid, ok, err := owner(ctx, s.client, channelID)
	if err != nil {
		s.log.WarnContext(ctx, "finding the conversation's owner", "channel", channelID, "err", err)
		return
	}
	if !ok {
		return
	}
	owner, err := s.client.User.Query().
		Where(user.ID(uid), user.Active(true)).
		Select(user.FieldPatientAutoReply, user.FieldPatientAutoReplyUntil).
		Only(sctx)
	if ent.IsNotFound(err) {
		return
	}
	if err != nil {
		s.log.WarnContext(ctx, "reading the patient auto-reply", "channel", channelID, "err", err)
		return
	}
	s.sendAutoReply(ctx, channelID, owner.ID, owner.PatientAutoReply, owner.PatientAutoReplyUntil)
}
