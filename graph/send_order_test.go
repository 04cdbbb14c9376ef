package graph_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// An auto-reply and a concurrent send in the same channel: the live stream
// orders messages by writing transaction, so a message with a higher
// sequence number must never carry a lower transaction id. The auto-reply
// is held up (by a trigger waiting on an advisory lock the test holds) right
// after it records that it replied; a send by the other party then races it.
func TestAutoReplyKeepsStreamOrder(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("transaction ids and row locks are PostgreSQL's; SQLite serialises writers")
	}
	e := newEnv(t)
	ctx := context.Background()
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	e.ok(patel.AccessToken, `mutation { updatePreferences(input: {staffAutoReply: {text: "Away"}}) { id } }`, nil, nil)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})

	release := holdAfterInsert(t, e, "auto_reply_sents", 727001)
	defer release()

	const sendQ = `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`
	send := func(token, body string) <-chan []gqlError {
		done := make(chan []gqlError, 1)
		go func() {
			done <- e.do(token, sendQ, map[string]any{"in": map[string]any{"channelID": ch.ID, "body": body}}).Errors
		}()
		return done
	}
	waiting := func(event string) bool {
		var n int
		err := e.db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND (wait_event = 'advisory') = ($1 = 'advisory')`,
			event).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	first := send(chen.AccessToken, "are you in?")
	deadline := time.Now().Add(20 * time.Second)
	for !waiting("advisory") {
		if time.Now().After(deadline) {
			t.Fatal("the auto-reply never reached the trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Patel (no auto-reply of his own on) writes while the auto-reply is
	// held: he either waits for the channel (the auto-reply has it locked)
	// or gets through first.
	second := send(patel.AccessToken, "back tomorrow")
	var secondErrs []gqlError
	secondDone := false
	for !secondDone && !waiting("row") {
		select {
		case secondErrs = <-second:
			secondDone = true
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the second send neither finished nor waited for the channel")
		}
	}
	release()
	if errs := <-first; len(errs) > 0 {
		t.Fatalf("first send: %+v", errs)
	}
	if !secondDone {
		secondErrs = <-second
	}
	if len(secondErrs) > 0 {
		t.Fatalf("second send: %+v", secondErrs)
	}

	rows, err := e.db.SQL.QueryContext(ctx, `SELECT seq, txid, kind FROM messages WHERE channel_id = $1 ORDER BY seq`, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lastTx int64
	var kinds []string
	for rows.Next() {
		var seq, txid int64
		var kind string
		if err := rows.Scan(&seq, &txid, &kind); err != nil {
			t.Fatal(err)
		}
		if txid < lastTx {
			t.Errorf("message %d (%s) has transaction id %d, below the previous message's %d: the stream would deliver it first", seq, kind, txid, lastTx)
		}
		lastTx = txid
		kinds = append(kinds, kind)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 3 {
		t.Fatalf("messages = %v, want the send, the auto-reply and the other send", kinds)
	}
}

// A staff user shares every patient channel as care team without being a
// member of it (SPEC §4): their first send there joins them, takes the next
// sequence number once, and leaves them with nothing unread. A send to a
// channel they cannot see is refused and leaves that channel as it was.
func TestSendJoinsPatientChannelRefusesInvisible(t *testing.T) {
	e := newEnv(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	p, err := e.db.Client.Patient.Query().First(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.db.Client.Channel.Create().SetKind(channel.KindPATIENT).SetPatientID(p.ID).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct{ SendMessage struct{ Seq int } }
	e.ok(chen.AccessToken, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { seq } }`,
		map[string]any{"in": map[string]any{"channelID": ch.ID, "body": "hello"}}, &sent)
	after, err := e.db.Client.Channel.Get(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	mark, err := e.db.Client.ChannelMember.Query().
		Where(channelmember.ChannelID(ch.ID), channelmember.UserID(pulidOf(chen.User.ID))).Only(ctx)
	if err != nil {
		t.Fatalf("chen's membership after posting: %v", err)
	}
	if sent.SendMessage.Seq != 1 || after.LastSeq != 1 || after.MessageCount != 1 || mark.LastReadSeq != 1 {
		t.Errorf("care-team send: seq %d, last seq %d, count %d, read mark %d; want 1 each",
			sent.SendMessage.Seq, after.LastSeq, after.MessageCount, mark.LastReadSeq)
	}

	private := e.open(patel.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	e.fails(chen.AccessToken, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": private.ID, "body": "hello"}}, "NOT_FOUND")
	hidden, err := e.db.Client.Channel.Get(ctx, pulidOf(private.ID))
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.db.Client.Message.Query().Where(message.ChannelID(hidden.ID)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || hidden.LastSeq != 0 || hidden.MessageCount != 0 {
		t.Errorf("refused send left %d messages, last seq %d, count %d", n, hidden.LastSeq, hidden.MessageCount)
	}
}

// A membership change that posts a notice takes its transaction id with its
// first write, before it locks the channel; a send that commits in between
// gets the earlier sequence number but a later transaction id. The notice
// must still come after that send in the stream: its stream transaction id
// is raised to the channel's last one under the lock. The change is held (by
// a trigger waiting on an advisory lock the test holds) right after it adds
// the group member, and the send goes through meanwhile.
func TestMembershipNoticeKeepsStreamOrder(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("transaction ids and row locks are PostgreSQL's; SQLite serialises writers")
	}
	e := newEnv(t)
	ctx := context.Background()
	admin, chen, kim := e.login(demo.AdminEmail), e.login(demo.ChenEmail), e.login(demo.KimEmail)
	doctors := e.groupID(chen.AccessToken, "Doctors")
	ch := e.open(chen.AccessToken, map[string]any{"securityGroupIDs": []string{doctors}})
	e.send(chen.AccessToken, ch.ID, "before", nil)

	release := holdAfterInsert(t, e, "user_security_groups", 727002)
	defer release()

	changed := make(chan []gqlError, 1)
	go func() {
		changed <- e.do(admin.AccessToken, `mutation($g: ID!, $add: [ID!]) {
			updateSecurityGroupMembers(input: {securityGroupID: $g, addUserIDs: $add}) { id } }`,
			map[string]any{"g": doctors, "add": []string{kim.User.ID}}).Errors
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := e.db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the membership change never reached the trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.send(chen.AccessToken, ch.ID, "during", nil) // commits while the change is held
	release()
	if errs := <-changed; len(errs) > 0 {
		t.Fatalf("updateSecurityGroupMembers: %+v", errs)
	}

	rows, err := e.db.SQL.QueryContext(ctx, `SELECT seq, txid, kind, body FROM messages WHERE channel_id = $1 ORDER BY seq`, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lastTx int64
	var bodies []string
	for rows.Next() {
		var seq, txid int64
		var kind, body string
		if err := rows.Scan(&seq, &txid, &kind, &body); err != nil {
			t.Fatal(err)
		}
		if txid < lastTx {
			t.Errorf("message %d (%s %q) has stream transaction id %d, below the previous message's %d: the stream would deliver it first", seq, kind, body, txid, lastTx)
		}
		lastTx = txid
		bodies = append(bodies, body)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 || bodies[0] != "before" || bodies[1] != "during" {
		t.Fatalf("messages = %q, want before, during and the notice that Kim joined", bodies)
	}
}

// holdAfterInsert makes every transaction that inserts into table wait,
// right after the insert, until release is called: a trigger takes an
// advisory lock the test holds on a connection of its own (PostgreSQL).
// Only the server knows when a backend starts waiting on that lock (a
// NOTIFY from the trigger would arrive only at commit), so the tests poll
// pg_stat_activity for it, every 10 ms within a deadline.
func holdAfterInsert(t *testing.T, e *env, table string, key int64) (release func()) {
	t.Helper()
	ctx := context.Background()
	fn := "test_hold_" + table
	for _, q := range []string{
		`CREATE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS
		 $$ BEGIN PERFORM pg_advisory_xact_lock_shared(` + strconv.FormatInt(key, 10) + `); RETURN NEW; END $$`,
		`CREATE TRIGGER ` + fn + ` AFTER INSERT ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
	} {
		if _, err := e.db.SQL.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	hold, err := e.db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	released := false
	t.Cleanup(func() { _ = hold.Close() })
	return func() {
		if !released {
			released = true
			if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				t.Error(err)
			}
		}
	}
}

// Two custom groups that include each other, changed at the same time from
// both ends: each change locks its own channel and then the other's to post
// the membership notice there. PostgreSQL aborts one as a deadlock victim;
// the change is run again and both succeed.
func TestCustomGroupsIncludingEachOtherChangeAtOnce(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("row locks are PostgreSQL's; SQLite serialises writers")
	}
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	recID, adminID := e.userID(chen.AccessToken, demo.ReceptionEmail), e.userID(chen.AccessToken, demo.AdminEmail)
	const upd = `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}, "name": "A"})
	b := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID, recID}, "name": "B"})
	e.ok(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": a.ID, "addChannelIDs": []string{b.ID}}}, nil)
	e.ok(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": b.ID, "addChannelIDs": []string{a.ID}}}, nil)

	release := holdAfterInsert(t, e, "messages", 727003)
	defer release()
	change := func(in map[string]any) <-chan []gqlError {
		done := make(chan []gqlError, 1)
		go func() { done <- e.do(chen.AccessToken, upd, map[string]any{"in": in}).Errors }()
		return done
	}
	// Adding the admin to A and taking reception off B both change the
	// members of both groups.
	first := change(map[string]any{"channelID": a.ID, "addUserIDs": []string{adminID}})
	second := change(map[string]any{"channelID": b.ID, "removeUserIDs": []string{recID}})
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := e.db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the two changes reached the trigger", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	for i, done := range []<-chan []gqlError{first, second} {
		if errs := <-done; len(errs) > 0 {
			t.Errorf("change %d: %+v", i+1, errs)
		}
	}
	for _, ch := range []string{a.ID, b.ID} {
		if got := emails(e.channel(chen.AccessToken, ch)); got != "admin,dr.chen,dr.patel,nurse.kim" {
			t.Errorf("channel %s has %s, want the admin added and reception gone on both sides", ch, got)
		}
	}
}
