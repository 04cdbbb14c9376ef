package messenger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// SendInput is a message to post.
type SendInput struct {
	ChannelID       pulid.ID
	Body            string
	SMS             bool
	PatientIDs      []pulid.ID
	ReplyToID       *pulid.ID
	ClientMessageID *string
}

// smsTag in a body asks for an SMS copy, like the SMS button.
const smsTag = "#sms"

// Send posts a message as the viewer. A retried send with the same
// clientMessageID returns the first message instead of posting twice.
func (s *Service) Send(ctx context.Context, in SendInput) (*ent.Message, error) {
	if pv := viewer.FromContext(ctx); rule.PortalPatient.Holds(pv) {
		return s.patientSend(ctx, pv, in)
	}
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	body, err := validBody(in.Body)
	if err != nil {
		return nil, err
	}
	sms := in.SMS || strings.Contains(strings.ToLower(body), smsTag)
	patients := pulid.Dedupe(in.PatientIDs)
	if len(patients) > MaxPatientLinks {
		return nil, apperr.Invalid("patientIDs", "a message links at most %d patients", MaxPatientLinks)
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
	var recipient *ent.User
	var kind channel.Kind
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		// One statement locks the channel, checks that the viewer is a
		// member, takes the next sequence number and the writing
		// transaction's id, and reads the other party of an individual
		// channel; everything below is rolled back on refusal. (The party
		// is read under the lock: a change to their mobile number or to
		// whether they take direct messages that committed before this
		// send's turn holds for it.)
		a, err := s.advance(ctx, c, in.ChannelID, v.UserID, true)
		if err != nil {
			return err
		}
		if !a.ok {
			// The care team posts in a patient conversation without being
			// added: the first post joins it. The refused UPDATE wrote
			// nothing, so the retry still takes the channel lock first.
			joined, err := s.joinPatientConversation(ctx, c, v, in.ChannelID, 0)
			if err != nil {
				return err
			}
			if joined {
				if a, err = s.advance(ctx, c, in.ChannelID, v.UserID, true); err != nil {
					return err
				}
			}
		}
		if !a.ok {
			return s.refused(ctx, c, in.ChannelID)
		}
		if err := rule.PostIn(v, a.kind); err != nil {
			return err
		}
		kind = a.kind
		if a.kind == channel.KindINDIVIDUAL {
			if recipient = a.party; recipient == nil {
				return fmt.Errorf("finding the other party of %s: not found", in.ChannelID)
			}
			if recipient.NeverReceiveDirect {
				return apperr.New(apperr.Forbidden, "%s does not receive direct messages", recipient.Name)
			}
		}
		if sms {
			switch {
			case a.kind != channel.KindINDIVIDUAL:
				return apperr.Invalid("sms", "SMS copies can only be sent in individual conversations")
			case recipient.Mobile == nil || strings.TrimSpace(*recipient.Mobile) == "":
				return apperr.Invalid("sms", "%s has no mobile number for an SMS copy", recipient.Name)
			}
			if err := s.mayText(ctx, c, *recipient.Mobile); err != nil {
				return err
			}
		}
		if len(patients) > 0 {
			n, err := c.Patient.Query().Where(patient.IDIn(patients...)).Count(ctx)
			if err != nil {
				return err
			}
			if n != len(patients) {
				return apperr.Invalid("patientIDs", "unknown patient")
			}
		}
		if in.ReplyToID != nil {
			ok, err := c.Message.Query().Where(message.ID(*in.ReplyToID)).Exist(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Invalid("replyToID", "the message replied to does not exist")
			}
		}
		kind := message.KindUSER
		if a.kind == channel.KindALERT {
			kind = message.KindALERT
		}
		create := c.Message.Create().
			SetKind(kind).
			SetSenderID(v.UserID).
			SetBody(body).
			SetSms(sms).
			AddPatientIDs(patients...).
			SetNillableReplyToID(in.ReplyToID)
		if clientID != "" {
			create.SetClientMessageID(clientID)
		}
		wctx := ctx
		if a.memberLocked {
			// The message policy need not read the membership again. Only
			// this message's Save gets wctx: nothing before it in this
			// transaction changed the membership after advance found it.
			wctx = rule.WithLockedMembership(ctx, in.ChannelID, v.UserID, a.kind)
		}
		msg, err = s.append(wctx, c, in.ChannelID, a, create, emit)
		if err != nil {
			return err
		}
		if sms {
			me, err := c.User.Get(ctx, v.UserID)
			if err != nil {
				return err
			}
			err = c.OutboxMessage.Create().
				SetChannel("SMS").
				SetRecipient(strings.TrimSpace(*recipient.Mobile)).
				SetBody(smsText(me.Name, body)).
				SetIdempotencyKey("message-sms:" + string(msg.ID)).
				SetCauseMessageID(msg.ID).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("queuing SMS copy: %w", err)
			}
		}
		return nil
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
	if recipient != nil {
		s.autoReply(ctx, msg.ChannelID, recipient)
	}
	if kind == channel.KindPATIENT {
		// Answering is reading: the sender's PATIENT_PORTAL notification
		// of the conversation has been seen. The message stands whatever
		// happens here.
		if err := s.acknowledgePortalNotifications(ctx, v, msg.ChannelID); err != nil {
			s.log.WarnContext(ctx, "acknowledging portal notifications", "channel", msg.ChannelID, "err", err)
		}
	}
	return msg.Unwrap(), nil
}

// clientMessageID is a send's clientMessageID, checked ("" when none).
func clientMessageID(in SendInput) (string, error) {
	if in.ClientMessageID == nil {
		return "", nil
	}
	id := strings.TrimSpace(*in.ClientMessageID)
	if id == "" || len(id) > 100 {
		return "", apperr.Invalid("clientMessageID", "clientMessageID must be 1 to 100 characters")
	}
	return id, nil
}

// sent returns the viewer's earlier message with clientID, if any: a staff
// user's, or a portal patient's.
func (s *Service) sent(ctx context.Context, v *viewer.Viewer, clientID string, channelID pulid.ID) (*ent.Message, error) {
	by := message.SenderID(v.UserID)
	if rule.PortalPatient.Holds(v) {
		by = message.SenderPatientID(v.PatientID)
	}
	m, err := s.client.Message.Query().
		Where(by, message.ClientMessageID(clientID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.ChannelID != channelID {
		return nil, apperr.New(apperr.Conflict, "clientMessageID was already used for another conversation")
	}
	return m, nil
}

// lockChannel reads the channel as the viewer (a channel they cannot see is
// NOT_FOUND) and, on PostgreSQL, locks its row until the transaction ends,
// so sequence numbers are handed out one at a time, in commit order.
func (s *Service) lockChannel(ctx context.Context, c *ent.Client, id pulid.ID) (*ent.Channel, error) {
	q := c.Channel.Query().Where(channel.ID(id))
	if s.cfg.Dialect.IsPostgres() {
		q = q.ForUpdate()
	}
	return q.Only(ctx)
}

// advanced is a channel row that advance has locked and moved on.
type advanced struct {
	ok   bool // a row matched
	kind channel.Kind
	seq  int64 // the new message's sequence number
	txid int64
	at   time.Time // its time and the channel's last activity
	// readMarkOf is the member whose read mark has been moved to seq
	// already, if any.
	readMarkOf pulid.ID
	// memberLocked says that the member advance was given is a member as
	// of the row lock, and stays one until the transaction ends (see
	// rule.WithLockedMembership).
	memberLocked bool
	// party is the other member of an individual channel, when asked for:
	// the fields a send needs (Name, Mobile, NeverReceiveDirect and the
	// staff auto-reply).
	party *ent.User
}

// advance locks channel id and takes its next sequence number in one
// UPDATE: it moves the channel's last sequence number, message count and
// last activity, and returns the channel's kind, the new sequence number
// and the writing transaction's id. With member set, only a channel that
// member belongs to matches (what AllowIfChannelMemberUpdate allows a
// member); ok is false when nothing matched. With party (and member), it
// also reads the other member of an individual channel; on PostgreSQL the
// same statement does that and moves member's read mark to the new message.
//
// The message's stream transaction id is the channel's last_txid, moved
// under the row lock to the greater of its old value and this transaction's
// id. On PostgreSQL the live stream releases a message only once every
// transaction with an id up to its stream id has finished, which still holds
// for an id raised to an earlier, committed sender's: the message waits for
// its own transaction as before. Raising it is what keeps a channel's stream
// order equal to its sequence order when the transaction took its id before
// the lock (a membership change that posts a notice, or two sends whose ids
// were handed out in the opposite order to the lock): a higher sequence
// number in a channel never carries a lower stream id. On SQLite writers are
// serialised, so a counter is commit-ordered already.
func (s *Service) advance(ctx context.Context, c *ent.Client, id, member pulid.ID, party bool) (advanced, error) {
	a := advanced{at: s.now()}
	mark, txid := "?", "max(last_txid, (SELECT COALESCE(MAX(txid), 0) + 1 FROM messages))"
	if s.cfg.Dialect.IsPostgres() {
		mark, txid = "$", "GREATEST(last_txid, pg_current_xact_id()::text::bigint)"
		if !s.announced.has(c) {
			if _, err := announceMessageWrite(ctx, c); err != nil {
				return a, err
			}
			// A transaction begun elsewhere announces itself late: it may
			// have taken its id before the horizon could see it. It keeps
			// a floor, set by its first UPDATE that runs after the
			// announcement (so any horizon computed without it was below
			// the floor), and every message it writes goes above it.
			txid = "GREATEST(last_txid, pg_current_xact_id()::text::bigint, " +
				"COALESCE(NULLIF(current_setting('" + streamFloorSetting + "', true), '')::bigint, " +
				"set_config('" + streamFloorSetting + "', pg_snapshot_xmax(pg_current_snapshot())::text, true)::bigint))"
		}
	}
	p := func(n int) string { return mark + strconv.Itoa(n) }
	q := "UPDATE channels SET last_seq = last_seq + 1, message_count = message_count + 1, last_txid = " + txid + ", " +
		"last_activity_at = " + p(1) + ", updated_at = " + p(1) + " WHERE id = " + p(2)
	args := []any{a.at, id}
	if member != "" {
		q += " AND EXISTS (SELECT 1 FROM channel_members WHERE channel_members.channel_id = channels.id AND channel_members.user_id = " + p(3) + ")"
		args = append(args, member)
	}
	joined := party && member != "" && s.cfg.Dialect.IsPostgres()
	if joined {
		// The member's read mark moves in the same statement (as
		// AllowMembershipChangesByMembers lets a member move their own).
		// SQLite has no UPDATE inside WITH; there the party is read below
		// and append moves the read mark.
		//
		// The membership check above ran on the statement's snapshot, from
		// before any wait for the row lock. It still holds under the lock
		// when the channel's member_version (raised by every change of its
		// members, in the change's transaction) is the same in that
		// snapshot — the subquery, which does not see the UPDATE — as in
		// the row the UPDATE locked: then no change committed in between,
		// and none can commit before this transaction ends.
		q = "WITH a AS (" + q + " RETURNING id, kind, last_seq, last_txid AS txid, member_version), " +
			"r AS (UPDATE channel_members SET last_read_seq = a.last_seq, updated_at = $1 FROM a " +
			"WHERE channel_members.channel_id = a.id AND channel_members.user_id = $3) " +
			"SELECT a.kind, a.last_seq, a.txid, " +
			"a.member_version IS NOT DISTINCT FROM (SELECT member_version FROM channels WHERE id = $2), " + partyColumns + " " +
			"FROM a LEFT JOIN channel_members m ON a.kind = 'INDIVIDUAL' AND m.channel_id = a.id AND m.user_id <> $3 " +
			"LEFT JOIN users u ON u.id = m.user_id LIMIT 1"
	} else {
		q += " RETURNING kind, last_seq, last_txid"
	}
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return a, fmt.Errorf("advancing channel: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		dest := []any{&a.kind, &a.seq, &a.txid}
		var p partyRow
		if joined {
			dest = append(dest, &a.memberLocked)
			dest = append(dest, p.dest()...)
		}
		if err := rows.Scan(dest...); err != nil {
			return a, fmt.Errorf("advancing channel: %w", err)
		}
		a.ok = true
		if joined {
			a.readMarkOf = member
		} else if member != "" && !s.cfg.Dialect.IsPostgres() {
			// A SQLite write transaction holds the write lock from its
			// first statement: the check ran on the current membership,
			// which no one else can change before it ends.
			a.memberLocked = true
		}
		a.party = p.user()
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("advancing channel: %w", err)
	}
	if err := rows.Close(); err != nil {
		return a, fmt.Errorf("advancing channel: %w", err)
	}
	if a.ok && party && member != "" && !joined && a.kind == channel.KindINDIVIDUAL {
		// The UPDATE has found member in this individual channel: the
		// other party is its other member (as the PostgreSQL statement
		// reads it), read with the same plain statement.
		if a.party, err = otherMember(ctx, c, id, member); err != nil {
			return a, err
		}
	}
	return a, nil
}

// partyRow is the other party of an individual channel as advance reads
// it: the fields of advanced.party, all NULL when there is none.
type partyRow struct {
	id, name, mobile, autoReply sql.NullString
	never                       sql.NullBool
	until                       sql.NullTime
}

// partyColumns are partyRow's columns, of users u.
const partyColumns = "u.id, u.name, u.mobile, u.never_receive_direct, u.staff_auto_reply, u.staff_auto_reply_until"

func (p *partyRow) dest() []any {
	return []any{&p.id, &p.name, &p.mobile, &p.never, &p.autoReply, &p.until}
}

// user is the party, or nil.
func (p *partyRow) user() *ent.User {
	if !p.id.Valid {
		return nil
	}
	u := &ent.User{ID: pulid.ID(p.id.String), Name: p.name.String, NeverReceiveDirect: p.never.Bool}
	if p.mobile.Valid {
		u.Mobile = &p.mobile.String
	}
	if p.autoReply.Valid {
		u.StaffAutoReply = &p.autoReply.String
	}
	if p.until.Valid {
		t := p.until.Time.UTC()
		u.StaffAutoReplyUntil = &t
	}
	return u
}

// otherMember reads the member of channel id other than me (see
// partyRow), or nil; the caller has established that id is an individual
// channel me belongs to.
func otherMember(ctx context.Context, c *ent.Client, id, me pulid.ID) (*ent.User, error) {
	rows, err := c.QueryContext(ctx, "SELECT "+partyColumns+" FROM channel_members m JOIN users u ON u.id = m.user_id "+
		"WHERE m.channel_id = ? AND m.user_id <> ? LIMIT 1", id, me)
	if err != nil {
		return nil, fmt.Errorf("finding the other party: %w", err)
	}
	defer rows.Close()
	var p partyRow
	if rows.Next() {
		if err := rows.Scan(p.dest()...); err != nil {
			return nil, fmt.Errorf("finding the other party: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding the other party: %w", err)
	}
	return p.user(), nil
}

// refused explains why advance matched nothing for the viewer: the channel
// does not exist or is not theirs to see (NOT_FOUND), or they see it but
// are not a member (FORBIDDEN).
func (s *Service) refused(ctx context.Context, c *ent.Client, id pulid.ID) error {
	if _, err := c.Channel.Query().Where(channel.ID(id)).Only(ctx); err != nil {
		return err
	}
	return apperr.New(apperr.Forbidden, "you are not a member of this conversation")
}

// post appends a message to a channel the transaction has locked (see
// lockChannel) and moves ch's counters with it.
func (s *Service) post(ctx context.Context, c *ent.Client, ch *ent.Channel, create *ent.MessageCreate, emit func(...pubsub.Event)) (*ent.Message, error) {
	a, err := s.advance(ctx, c, ch.ID, "", false)
	if err != nil {
		return nil, err
	}
	if !a.ok {
		return nil, fmt.Errorf("advancing channel %s: not found", ch.ID)
	}
	ch.LastSeq, ch.MessageCount, ch.LastActivityAt = a.seq, ch.MessageCount+1, a.at
	return s.append(ctx, c, ch.ID, a, create, emit)
}

// append inserts the message advance made room for: its sequence number,
// writing transaction and time, then moves the sender's read mark (so the
// sender never has their own message unread) unless advance has — or the
// message is a staff auto-reply, which does not mean its away user read
// anything.
func (s *Service) append(ctx context.Context, c *ent.Client, channelID pulid.ID, a advanced, create *ent.MessageCreate, emit func(...pubsub.Event)) (*ent.Message, error) {
	msg, err := create.SetChannelID(channelID).SetSeq(a.seq).SetTxid(a.txid).SetCreatedAt(a.at).Save(ctx)
	if err != nil {
		return nil, err
	}
	// A staff auto-reply is posted in the away user's name, but they have
	// not read what it answers: their mark stays (and the auto-reply
	// itself counts for them until they open the conversation).
	if msg.SenderID != nil && *msg.SenderID != a.readMarkOf && msg.Kind != message.KindAUTO_REPLY {
		// The sender's own row, the viewer's, whose insert the rules
		// allowed (as AllowMembershipChangesByMembers lets a member move
		// their own read mark, and as advance's statement does on
		// PostgreSQL). Plain SQL: this runs in every send's transaction.
		if _, err := c.ExecContext(ctx, "UPDATE channel_members SET last_read_seq = $1, updated_at = $2 "+
			"WHERE channel_id = $3 AND user_id = $4", a.seq, a.at, string(channelID), string(*msg.SenderID)); err != nil {
			return nil, fmt.Errorf("moving sender's read mark: %w", err)
		}
	}
	emit(pubsub.Event{Kind: pubsub.Message, Channel: channelID, Message: msg.ID})
	return msg, nil
}

// Reply answers a message: to its sender in their individual channel
// (quoting it), or with toAll in the same channel.
func (s *Service) Reply(ctx context.Context, messageID pulid.ID, body string, toAll bool) (*ent.Message, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	orig, err := s.client.Message.Get(ctx, messageID)
	if err != nil {
		return nil, err
	}
	target := orig.ChannelID
	if !toAll {
		switch {
		case orig.SenderID == nil:
			return nil, apperr.Invalid("messageID", "this message has no sender to reply to; reply to all instead")
		case *orig.SenderID == v.UserID:
			return nil, apperr.Invalid("messageID", "that is your own message; reply to all instead")
		}
		ch, err := s.individual(ctx, v, *orig.SenderID)
		if err != nil {
			return nil, err
		}
		target = ch.ID
	}
	return s.Send(ctx, SendInput{ChannelID: target, Body: body, ReplyToID: &orig.ID})
}

// MarkRead marks every message of a channel read for the viewer.
func (s *Service) MarkRead(ctx context.Context, channelID pulid.ID) (*ent.Channel, error) {
	if pv := viewer.FromContext(ctx); rule.PortalPatient.Holds(pv) {
		return s.patientMarkRead(ctx, pv, channelID)
	}
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.client.Channel.Get(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if err := s.setReadMark(ctx, v, ch, ch.LastSeq); err != nil {
		return nil, err
	}
	if ch.Kind == channel.KindPATIENT {
		// Read: the owner's PATIENT_PORTAL notification has been seen. The
		// read itself stands whatever happens here.
		if err := s.acknowledgePortalNotifications(ctx, v, ch.ID); err != nil {
			s.log.WarnContext(ctx, "acknowledging portal notifications", "channel", ch.ID, "err", err)
		}
	}
	return ch, nil
}

// MarkUnread makes a channel unread from one message on, for the viewer.
func (s *Service) MarkUnread(ctx context.Context, messageID pulid.ID) (*ent.Channel, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.client.Message.Get(ctx, messageID)
	if err != nil {
		return nil, err
	}
	ch, err := s.client.Channel.Get(ctx, m.ChannelID)
	if err != nil {
		return nil, err
	}
	return ch, s.setReadMark(ctx, v, ch, m.Seq-1)
}

func (s *Service) setReadMark(ctx context.Context, v *viewer.Viewer, ch *ent.Channel, seq int64) error {
	n, err := s.client.ChannelMember.Update().
		Where(channelmember.ChannelID(ch.ID), channelmember.UserID(v.UserID)).
		SetLastReadSeq(seq).
		Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		joined, err := s.joinPatientConversation(ctx, s.client, v, ch.ID, seq)
		if isUnique(err) {
			// A concurrent first read or post joined already.
			return s.setReadMark(ctx, v, ch, seq)
		}
		if err != nil {
			return err
		}
		if !joined {
			return apperr.New(apperr.BadUserInput, "you are not a member of this conversation")
		}
	}
	s.bus.Publish(ctx, pubsub.Event{Kind: pubsub.Read, Channel: ch.ID, Users: []pulid.ID{v.UserID}})
	return nil
}

// autoReply answers a direct message with the recipient's staff auto-reply,
// at most once per conversation per day (a unique key, so replicas agree).
// It runs after the message has committed, as the messenger worker: the
// reply is the recipient's, not the viewer's. Failures are logged, never
// returned: the sender's message is already delivered.
func (s *Service) autoReply(ctx context.Context, channelID pulid.ID, recipient *ent.User) {
	s.sendAutoReply(ctx, channelID, recipient.ID, recipient.StaffAutoReply, recipient.StaffAutoReplyUntil)
}

// sendAutoReply posts text in channelID as recipientID unless it is empty
// or past until, at most once per channel per day.
func (s *Service) sendAutoReply(ctx context.Context, channelID, recipientID pulid.ID, text *string, until *time.Time) {
	now := s.now()
	if text == nil || strings.TrimSpace(*text) == "" || (until != nil && now.After(*until)) {
		return
	}
	sctx := system(ctx, "post the recipient's staff auto-reply")
	err := s.tx.Run(sctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		// The channel first: its lock is what orders this transaction's id
		// after every earlier message's. Writing anything before it would
		// take a transaction id early, so a send committing meanwhile could
		// get a lower sequence number but a higher transaction id, and the
		// live stream (ordered by transaction) would deliver them swapped.
		a, err := s.advance(sctx, c, channelID, "", false)
		if err != nil {
			return err
		}
		if !a.ok {
			return fmt.Errorf("advancing channel %s: not found", channelID)
		}
		err = c.AutoReplySent.Create().
			SetChannelID(channelID).
			SetUserID(recipientID).
			SetDay(now.Format("2006-01-02")).
			Exec(sctx)
		if isUnique(err) {
			return errAlreadyReplied
		}
		if err != nil {
			return err
		}
		_, err = s.append(sctx, c, channelID, a, c.Message.Create().
			SetSenderID(recipientID).
			SetKind(message.KindAUTO_REPLY).
			SetBody(*text), emit)
		return err
	})
	if err != nil && err != errAlreadyReplied {
		s.log.WarnContext(ctx, "sending auto-reply", "channel", channelID, "err", err)
	}
}

var errAlreadyReplied = apperr.New(apperr.Conflict, "auto-reply already sent today")

// validBody trims and bounds a message body.
func validBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		return "", apperr.Invalid("body", "a message cannot be empty")
	case n > MaxBodyLength:
		return "", apperr.Invalid("body", "a message is at most %d characters (this one has %d)", MaxBodyLength, n)
	}
	return body, nil
}

// smsText is the SMS copy of a message: who it is from, then the body
// without the #sms tag.
func smsText(from, body string) string {
	idx := strings.Index(strings.ToLower(body), smsTag)
	for idx >= 0 {
		body = body[:idx] + body[idx+len(smsTag):]
		idx = strings.Index(strings.ToLower(body), smsTag)
	}
	return "Whisper from " + from + ": " + strings.Join(strings.Fields(body), " ")
}
