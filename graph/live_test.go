package graph_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// subscription is one GraphQL subscription on its own websocket.
type subscription struct {
	t *testing.T
	c *wsClient
}

func (e *env) subscribe(t *testing.T, token, query string, vars map[string]any) *subscription {
	t.Helper()
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + token})
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	c.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	return &subscription{t: t, c: c}
}

// next returns the data of the next event, or nil if none came in time.
func (s *subscription) next(timeout time.Duration) map[string]any {
	s.t.Helper()
	msg, err := s.c.read(timeout)
	if err != nil {
		return nil
	}
	switch msg["type"] {
	case "next":
		p := msg["payload"].(map[string]any)
		if p["errors"] != nil {
			s.t.Fatalf("subscription error: %v", p["errors"])
		}
		return p["data"].(map[string]any)
	case "complete":
		return map[string]any{"complete": true}
	}
	s.t.Fatalf("unexpected %v", msg)
	return nil
}

func (s *subscription) message(timeout time.Duration) (body, cursor string) {
	s.t.Helper()
	d := s.next(timeout)
	if d == nil {
		return "", ""
	}
	if d["complete"] == true {
		return "<complete>", ""
	}
	for _, v := range d { // messageAdded or observeUser
		m := v.(map[string]any)
		cursor, _ := m["cursor"].(string)
		return m["body"].(string), cursor
	}
	return "", ""
}

const messageAdded = `subscription($c: ID, $after: String) { messageAdded(channelID: $c, after: $after) { body cursor sender { email } channel { id } } }`

func TestMessageAddedLiveAndAuthorised(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	patelSub := e.listen(t, patel.AccessToken, messageAdded, nil)
	onlyCh := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"c": ch.ID})
	kimSub := e.listen(t, kim.AccessToken, messageAdded, nil)

	other := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	e.send(chen.AccessToken, ch.ID, "for Patel", nil)
	e.send(chen.AccessToken, other.ID, "for Kim", nil)
	if body, cursor := patelSub.message(5 * time.Second); body != "for Patel" || cursor == "" {
		t.Errorf("Patel's stream got %q, want her message with a cursor", body)
	}
	if body, _ := onlyCh.message(5 * time.Second); body != "for Patel" {
		t.Errorf("Patel's one-channel stream got %q", body)
	}
	if body, _ := kimSub.message(5 * time.Second); body != "for Kim" {
		t.Errorf("Kim's stream got %q, want only her own message", body)
	}
	if body, _ := patelSub.message(300 * time.Millisecond); body != "" {
		t.Errorf("Patel received %q from a channel she is not in", body)
	}
	// A channel the subscriber cannot see is refused.
	c, _ := dialWS(t, e, map[string]any{"Authorization": "Bearer " + kim.AccessToken})
	c.send(map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{"query": messageAdded, "variables": map[string]any{"c": ch.ID}}})
	msg, _ := c.read(5 * time.Second)
	if msg["type"] != "error" && msg["type"] != "next" || !containsCode(msg, "NOT_FOUND") {
		t.Errorf("subscribing to someone else's channel: %v, want NOT_FOUND", msg)
	}
}

func containsCode(msg map[string]any, code string) bool {
	b, _ := json.Marshal(msg)
	return json.Valid(b) && contains(string(b), code)
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestMessageAddedResumesAfterCursor(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(kim.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, chen.User.ID}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	e.send(chen.AccessToken, a.ID, "m1", nil)
	_, cursor := sub.message(5 * time.Second)
	if cursor == "" {
		t.Fatal("no first message")
	}
	sub.c.conn.CloseNow()

	// While Patel is away: messages in two channels, and one she cannot see.
	e.send(chen.AccessToken, a.ID, "m2", nil)
	e.send(kim.AccessToken, b.ID, "m3", nil)
	e.send(chen.AccessToken, e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}}).ID, "not for Patel", nil)
	e.send(chen.AccessToken, a.ID, "m4", nil)

	resumed := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"after": cursor})
	var got []string
	for i := 0; i < 3; i++ {
		body, _ := resumed.message(5 * time.Second)
		got = append(got, body)
	}
	if fmt.Sprint(got) != "[m2 m3 m4]" {
		t.Fatalf("replay = %v, want [m2 m3 m4]", got)
	}
	e.send(kim.AccessToken, b.ID, "m5", nil)
	if body, _ := resumed.message(5 * time.Second); body != "m5" {
		t.Errorf("after the replay got %q, want the live m5", body)
	}
	if body, _ := resumed.message(300 * time.Millisecond); body != "" {
		t.Errorf("got %q again: a message was delivered twice", body)
	}
	// One channel's stream resumes within that channel.
	one := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"c": a.ID, "after": cursor})
	var inA []string
	for i := 0; i < 2; i++ {
		body, _ := one.message(5 * time.Second)
		inA = append(inA, body)
	}
	if fmt.Sprint(inA) != "[m2 m4]" {
		t.Errorf("one-channel replay = %v, want [m2 m4]", inA)
	}
}

// TestResumeWithLateCommit proves the stream never skips a message whose
// transaction started earlier but committed later than one already sent.
func TestResumeWithLateCommit(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite serialises writers; only PostgreSQL commits out of order")
	}
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(patel.AccessToken, map[string]any{"userIDs": []string{e.userID(patel.AccessToken, demo.KimEmail)}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)

	// A slow transaction takes its transaction id first…
	ctx := viewer.NewSystemContext(context.Background(), "test")
	tx, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// (announced as a message writer, as messenger's sends are)
	if _, err := tx.ExecContext(ctx, announceWrite); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT pg_current_xact_id()::text::bigint")
	if err != nil {
		t.Fatal(err)
	}
	var txid int64
	rows.Next()
	_ = rows.Scan(&txid)
	rows.Close()
	ch := tx.Channel.Query().Where(channel.ID(pulidOf(a.ID))).ForUpdate().OnlyX(ctx)
	tx.Message.Create().SetChannelID(ch.ID).SetSeq(ch.LastSeq + 1).SetTxid(txid).
		SetSenderID(pulidOf(chen.User.ID)).SetBody("slow").SaveX(ctx)
	tx.Channel.UpdateOne(ch).SetLastSeq(ch.LastSeq + 1).AddMessageCount(1).ExecX(ctx)

	// …a fast one commits meanwhile…
	e.send(patel.AccessToken, b.ID, "fast", nil)
	if body, _ := sub.message(500 * time.Millisecond); body != "" {
		t.Fatalf("got %q while an earlier transaction was still open; it could be skipped", body)
	}
	// …and when the slow one commits, both arrive, the slow one first.
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	first, _ := sub.message(5 * time.Second)
	second, cur := sub.message(5 * time.Second)
	if first != "slow" || second != "fast" {
		t.Fatalf("got %q then %q, want slow then fast", first, second)
	}
	// Resuming from the last cursor misses nothing and repeats nothing.
	e.send(chen.AccessToken, a.ID, "after", nil)
	re := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"after": cur})
	if body, _ := re.message(5 * time.Second); body != "after" {
		t.Errorf("resume got %q, want after", body)
	}
}

func TestUnreadBadge(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.send(chen.AccessToken, ch.ID, "one", nil)
	badge := e.subscribe(t, patel.AccessToken, `subscription { unreadBadge { total channels { channel { id } unread } notifications { kind unread } } }`, nil)
	// A badge is a state: wait until it shows the expected total (a
	// repeat of the previous state may come first).
	total := func(want float64) float64 {
		var n float64 = -1
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			d := badge.next(time.Until(deadline))
			if d == nil {
				break
			}
			if n = d["unreadBadge"].(map[string]any)["total"].(float64); n == want {
				return n
			}
		}
		return n
	}
	if n := total(1); n != 1 {
		t.Fatalf("initial badge %v, want 1", n)
	}
	m2 := e.send(chen.AccessToken, ch.ID, "two", nil)
	if n := total(2); n != 2 {
		t.Errorf("after a new message %v, want 2", n)
	}
	e.ok(patel.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": ch.ID}, nil)
	if n := total(0); n != 0 {
		t.Errorf("after reading %v, want 0", n)
	}
	e.ok(patel.AccessToken, `mutation($m: ID!) { markMessageUnread(messageID: $m) { id } }`, map[string]any{"m": m2.ID}, nil)
	if n := total(1); n != 1 {
		t.Errorf("after marking the last unread %v, want 1", n)
	}
	e.send(patel.AccessToken, ch.ID, "my reply", nil)
	if n := total(0); n != 0 {
		t.Errorf("after replying %v, want 0 (one's own message reads the channel)", n)
	}
	// Being added to a group with history does not make the history (nor
	// the notice of one's own addition) unread…
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{e.userID(chen.AccessToken, demo.KimEmail), e.userID(chen.AccessToken, demo.ReceptionEmail)}, "name": "Ward"})
	e.send(chen.AccessToken, g.ID, "history", nil)
	e.ok(chen.AccessToken, `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": g.ID, "addUserIDs": []string{patel.User.ID}}}, nil)
	if n := total(0); n != 0 {
		t.Errorf("after being added to a group with history %v, want 0", n)
	}
	// …but the badge now follows that channel.
	e.send(chen.AccessToken, g.ID, "news", nil)
	if n := total(1); n != 1 {
		t.Errorf("after a message in the group just joined %v, want 1", n)
	}
	// Leaving it takes its unread messages off the badge.
	e.ok(chen.AccessToken, `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": g.ID, "removeUserIDs": []string{patel.User.ID}}}, nil)
	if n := total(0); n != 0 {
		t.Errorf("after being removed from the group %v, want 0", n)
	}
}

func TestChannelUpdatedAndRemovedMembers(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	events := e.listen(t, kim.AccessToken, `subscription { channelUpdated { type channel { id name } } }`, nil)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	next := func() (string, any) {
		d := events.next(5 * time.Second)
		if d == nil {
			t.Fatal("no channel event")
		}
		ev := d["channelUpdated"].(map[string]any)
		return ev["type"].(string), ev["channel"]
	}
	if typ, ch := next(); typ != "CREATED" || ch == nil {
		t.Errorf("got %s %v, want CREATED", typ, ch)
	}
	kimStream := e.listen(t, kim.AccessToken, messageAdded, map[string]any{"c": g.ID})
	kimAll := e.listen(t, kim.AccessToken, messageAdded, nil)
	const upd = `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`
	e.ok(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "name": "Renamed"}}, nil)
	// The rename also posts a system message.
	if body, _ := kimStream.message(5 * time.Second); body == "" {
		t.Errorf("no system message for the rename")
	}
	kimAll.message(5 * time.Second)
	if typ, ch := next(); typ != "RENAMED" || ch.(map[string]any)["name"] != "Renamed" {
		t.Errorf("got %s %v, want RENAMED to Renamed", typ, ch)
	}
	patelEvents := e.listen(t, patel.AccessToken, `subscription { channelUpdated { type channel { id } } }`, nil)
	e.ok(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "removeUserIDs": []string{kim.User.ID}}}, nil)
	// The members who stay are told the membership changed.
	if d := patelEvents.next(5 * time.Second); d == nil {
		t.Errorf("a remaining member got no channel event for the removal")
	} else if ev := d["channelUpdated"].(map[string]any); ev["type"] != "MEMBERS_CHANGED" || ev["channel"].(map[string]any)["id"] != g.ID {
		t.Errorf("a remaining member got %v, want MEMBERS_CHANGED for the group", ev)
	}
	var removed bool
	for i := 0; i < 3 && !removed; i++ {
		typ, ch := next()
		removed = typ == "REMOVED" && ch == nil
	}
	if !removed {
		t.Errorf("no REMOVED event with a null channel")
	}
	// Her one-channel stream ends with a FORBIDDEN error (not a plain
	// complete, which a client would answer by resuming); her all-channels
	// stream carries the channel no more.
	if msg := streamEnd(t, kimStream); msg["type"] != "error" || !containsCode(msg, "FORBIDDEN") {
		t.Errorf("the removed member's channel stream ended with %v, want an error with code FORBIDDEN", msg)
	}
	e.send(chen.AccessToken, g.ID, "after Kim left", nil)
	for {
		body, _ := kimAll.message(500 * time.Millisecond)
		if body == "" {
			break
		}
		if body == "after Kim left" {
			t.Fatalf("a removed member still receives the channel")
		}
	}
}

func TestStreamEndsWhenTheTokenExpires(t *testing.T) {
	e := newEnv(t, withAccessTTL(3*time.Second))
	patel := e.login(demo.PatelEmail)
	// Registered before the token expires, so the expiry reaches it as an
	// error (a socket whose stream had not started yet just closes).
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	start := time.Now()
	reason := closeReason(t, sub.c, 10*time.Second)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the socket closed %v after a 3 s token", d)
	}
	if !strings.Contains(reason, "TOKEN_EXPIRED") || !strings.Contains(reason, "UNAUTHENTICATED") || !strings.Contains(reason, "refresh") {
		t.Errorf("the stream ended with %s, want UNAUTHENTICATED / TOKEN_EXPIRED (refresh)", reason)
	}
}

// TestStreamEndsWhenTheSessionIsRevoked: every stream of the socket ends
// with an error telling the client to sign in again (its refresh token is
// dead too), not to refresh, and then the socket closes.
func TestStreamEndsWhenTheSessionIsRevoked(t *testing.T) {
	e := newEnv(t)
	patel := e.login(demo.PatelEmail)
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	e.ok(patel.AccessToken, `mutation { logout }`, nil, nil)
	if reason := closeReason(t, sub.c, 5*time.Second); !strings.Contains(reason, "SESSION_REVOKED") || !strings.Contains(reason, "UNAUTHENTICATED") || !strings.Contains(reason, "sign in again") {
		t.Errorf("the stream ended with %s, want UNAUTHENTICATED / SESSION_REVOKED (sign in again)", reason)
	}
}

// streamEnd skips a subscription's data and returns the message that ended
// it (error or complete).
func streamEnd(t *testing.T, s *subscription) map[string]any {
	t.Helper()
	for {
		msg, err := s.c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("the stream did not end: %v", err)
		}
		if msg["type"] != "next" {
			return msg
		}
	}
}

// closeReason reads c until the socket closes and returns the reason the
// server sent last (its connection_error message).
func closeReason(t *testing.T, c *wsClient, timeout time.Duration) string {
	t.Helper()
	var reason string
	for {
		msg, err := c.read(timeout)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the socket stayed open")
			}
			return reason
		}
		if msg["type"] == "error" || msg["type"] == "connection_error" {
			reason = mustJSON(msg["payload"])
		}
	}
}

func TestNotifyFollowsPreferences(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	const q = `subscription { messageAdded { body notify } }`
	patelSub := e.listen(t, patel.AccessToken, q, nil)
	chenSub := e.listen(t, chen.AccessToken, q, nil)
	notify := func(s *subscription) bool {
		d := s.next(5 * time.Second)
		if d == nil {
			t.Fatal("no message")
		}
		return d["messageAdded"].(map[string]any)["notify"].(bool)
	}
	e.send(chen.AccessToken, ch.ID, "ping", nil)
	if !notify(patelSub) {
		t.Errorf("the recipient is not notified")
	}
	if notify(chenSub) {
		t.Errorf("the sender is notified of their own message")
	}
	e.ok(patel.AccessToken, `mutation { updatePreferences(input: {keepHidden: true}) { id } }`, nil, nil)
	e.send(chen.AccessToken, ch.ID, "quietly", nil)
	if notify(patelSub) {
		t.Errorf("keep hidden still notifies")
	}
	notify(chenSub)
}

// TestOtherDatabasesDoNotHoldBackDelivery: a long write transaction in
// another database on the same server must not delay the live stream.
func TestOtherDatabasesDoNotHoldBackDelivery(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only")
	}
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	other, err := sql.Open("postgres", os.Getenv(testdb.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	e.send(chen.AccessToken, ch.ID, "not held back", nil)
	if body, _ := sub.message(3 * time.Second); body != "not held back" {
		t.Errorf("with a transaction open in another database, got %q", body)
	}
}

// announceWrite is what messenger runs before it writes a message: the
// stream horizon waits only for transactions holding this lock.
const announceWrite = "SELECT pg_advisory_xact_lock_shared(1464357712, 1)"

// holdHorizon opens a message-writing transaction that takes a transaction id and keeps it
// until the returned function runs: on PostgreSQL nothing committed after
// it is released to the live stream meanwhile. On SQLite it does nothing.
func (e *env) holdHorizon(t *testing.T) (release func()) {
	t.Helper()
	if !testdb.Postgres() {
		return func() {}
	}
	db, err := sql.Open("postgres", e.url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(announceWrite); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback()
			db.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// bodies reads n messages from s.
func (s *subscription) bodies(n int) []string {
	s.t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		body, _ := s.message(5 * time.Second)
		got = append(got, body)
	}
	return got
}

// TestResumeFromAMutationCursor: a cursor from sendMessage (or messages) is
// newer than the stream's position while the stream lags; resuming from it
// must deliver neither that message nor anything before it again.
func TestResumeFromAMutationCursor(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(kim.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.send(chen.AccessToken, a.ID, "m0", nil)
	release := e.holdHorizon(t)
	m1 := e.send(chen.AccessToken, a.ID, "m1", nil)
	all := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"after": m1.Cursor})
	one := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"c": a.ID, "after": m1.Cursor})
	e.send(chen.AccessToken, a.ID, "m2", nil)
	e.send(kim.AccessToken, b.ID, "m3", nil)
	release()
	if got := all.bodies(2); fmt.Sprint(got) != "[m2 m3]" {
		t.Errorf("all-channels stream resumed from a mutation's cursor got %v, want [m2 m3]", got)
	}
	if got := one.bodies(1); fmt.Sprint(got) != "[m2]" {
		t.Errorf("one-channel stream resumed from a mutation's cursor got %v, want [m2]", got)
	}
	for _, s := range []*subscription{all, one} {
		if body, _ := s.message(400 * time.Millisecond); body != "" {
			t.Errorf("then got %q: a message was delivered twice", body)
		}
	}
	// A query's cursor resumes a channel exactly, too.
	ms := e.messages(patel.AccessToken, a.ID)
	var m0 string
	for _, m := range ms {
		if m.Body == "m0" {
			m0 = m.Cursor
		}
	}
	again := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"c": a.ID, "after": m0})
	if got := again.bodies(2); fmt.Sprint(got) != "[m1 m2]" {
		t.Errorf("one-channel stream resumed from a query's cursor got %v, want [m1 m2]", got)
	}
	// A cursor of another channel cannot resume a one-channel stream.
	c, _ := dialWS(t, e, map[string]any{"Authorization": "Bearer " + patel.AccessToken})
	c.send(map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{"query": messageAdded, "variables": map[string]any{"c": b.ID, "after": m0}}})
	if msg, _ := c.read(5 * time.Second); !containsCode(msg, "BAD_USER_INPUT") {
		t.Errorf("resuming channel b from a's cursor: %v, want BAD_USER_INPUT", msg)
	}
}

// holdSend makes the real send path stop inside its transaction, after
// writing the message whose body is body, until the returned function runs:
// the transaction has its id and the channel's lock, and has not committed.
func (e *env) holdSend(t *testing.T, body string) (inserted <-chan struct{}, release func()) {
	t.Helper()
	in, out := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.db.Client.Message.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			if mm, ok := m.(*ent.MessageMutation); ok && err == nil && mm.Op().Is(ent.OpCreate) {
				if b, _ := mm.Body(); b == body {
					close(in)
					<-out
				}
			}
			return v, err
		})
	})
	release = func() { once.Do(func() { close(out) }) }
	t.Cleanup(release)
	return in, release
}

// TestResumeWhileDisconnectedWithLateCommit is the proof: the
// subscriber is away while a slow send (begun first) and a fast send
// (committed first) happen; it reconnects with its cursor before the slow
// one commits; every message then arrives exactly once, in stream order.
func TestResumeWhileDisconnectedWithLateCommit(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite serialises writers; only PostgreSQL commits out of order")
	}
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(kim.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	e.send(chen.AccessToken, a.ID, "seen", nil)
	body, cursor := sub.message(5 * time.Second)
	if body != "seen" {
		t.Fatalf("got %q, want seen", body)
	}
	sub.c.conn.CloseNow()

	inserted, release := e.holdSend(t, "slow")
	slowDone := make(chan response, 1)
	go func() {
		slowDone <- e.do(chen.AccessToken, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"channelID": a.ID, "body": "slow"}})
	}()
	select {
	case <-inserted:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow send never reached its insert")
	}
	e.send(kim.AccessToken, b.ID, "fast", nil)

	resumed := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"after": cursor})
	oneA := e.subscribe(t, patel.AccessToken, messageAdded, map[string]any{"c": a.ID})
	if body, _ := resumed.message(600 * time.Millisecond); body != "" {
		t.Fatalf("got %q while an earlier send was still open; it would have been skipped", body)
	}
	release()
	if r := <-slowDone; len(r.Errors) > 0 {
		t.Fatalf("slow send: %v", r.Errors)
	}
	if got := resumed.bodies(2); fmt.Sprint(got) != "[slow fast]" {
		t.Fatalf("after reconnecting got %v, want [slow fast]", got)
	}
	e.send(chen.AccessToken, a.ID, "live", nil)
	if body, _ := resumed.message(5 * time.Second); body != "live" {
		t.Errorf("then got %q, want live", body)
	}
	if body, _ := resumed.message(400 * time.Millisecond); body != "" {
		t.Errorf("then got %q: delivered twice", body)
	}
	// A one-channel stream opened "from now" meanwhile gets the send that
	// had not committed yet, once.
	if got := oneA.bodies(2); fmt.Sprint(got) != "[slow live]" {
		t.Errorf("channel a's stream got %v, want [slow live]", got)
	}
	if body, _ := oneA.message(400 * time.Millisecond); body != "" {
		t.Errorf("channel a's stream then got %q", body)
	}
}

// writeSilently commits a message in channel ch the way a send does, but
// publishes no event: only a catch-up from the database can find it.
func (e *env) writeSilently(t *testing.T, ch, sender, body string) {
	t.Helper()
	ctx := viewer.NewSystemContext(context.Background(), "test")
	tx, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT COALESCE(MAX(txid), 0) + 1 FROM messages"
	if testdb.Postgres() {
		if _, err := tx.ExecContext(ctx, announceWrite); err != nil {
			t.Fatal(err)
		}
		q = "SELECT GREATEST(pg_current_xact_id()::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var txid int64
	rows.Next()
	_ = rows.Scan(&txid)
	rows.Close()
	c := tx.Channel.Query().Where(channel.ID(pulidOf(ch))).OnlyX(ctx)
	tx.Message.Create().SetChannelID(c.ID).SetSeq(c.LastSeq + 1).SetTxid(txid).
		SetSenderID(pulidOf(sender)).SetBody(body).SaveX(ctx)
	tx.Channel.UpdateOne(c).SetLastSeq(c.LastSeq + 1).AddMessageCount(1).ExecX(ctx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestResyncRechecksOpenStreams: after lost events (Resync), the hub reads
// again what they would have said — a revoked session closes its socket, a
// member removed meanwhile loses their one-channel stream with FORBIDDEN,
// channel-event streams end with UNAVAILABLE / EVENTS_LOST for a reload,
// badges are recounted.
func TestResyncRechecksOpenStreams(t *testing.T) {
	e := newEnv(t, withPoll(time.Hour))
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}, "name": "Ward"})
	one := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"c": g.ID})
	events := e.listen(t, patel.AccessToken, `subscription { channelUpdated { type } }`, nil)
	kimSub := e.listen(t, kim.AccessToken, messageAdded, nil)
	badge := e.subscribe(t, chen.AccessToken, `subscription { unreadBadge { total } }`, nil)
	// The badge's first event says it is registered.
	if d := badge.next(5 * time.Second); d == nil {
		t.Fatal("no initial badge")
	}

	// Changes whose events are lost.
	ctx := viewer.NewSystemContext(context.Background(), "test")
	e.db.Client.ChannelMember.Delete().Where(channelmember.ChannelID(pulidOf(g.ID)), channelmember.UserID(pulidOf(patel.User.ID))).ExecX(ctx)
	e.db.Client.Session.Update().Where(session.UserID(pulidOf(kim.User.ID))).SetRevokedAt(time.Now()).ExecX(ctx)
	e.writeSilently(t, g.ID, kim.User.ID, "unread for Chen")
	e.bus.Publish(context.Background(), pubsub.Event{Kind: pubsub.Resync})

	if msg := streamEnd(t, one); msg["type"] != "error" || !containsCode(msg, "FORBIDDEN") {
		t.Errorf("the removed member's channel stream ended with %v, want FORBIDDEN", msg)
	}
	if msg := streamEnd(t, events); msg["type"] != "error" || !containsCode(msg, "UNAVAILABLE") || !strings.Contains(mustJSON(msg), `"EVENTS_LOST"`) {
		t.Errorf("channelUpdated after a resync: %v, want it ended with UNAVAILABLE / EVENTS_LOST (never a bare complete) so the client subscribes again and reloads", msg)
	}
	if reason := closeReason(t, kimSub.c, 5*time.Second); !strings.Contains(reason, "SESSION_REVOKED") {
		t.Errorf("a session revoked while its event was lost: the socket ended with %q, want SESSION_REVOKED", reason)
	}
	var total float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && total != 1; {
		d := badge.next(time.Until(deadline))
		if d == nil {
			break
		}
		total = d["unreadBadge"].(map[string]any)["total"].(float64)
	}
	if total != 1 {
		t.Errorf("Chen's badge after the resync shows %v, want 1", total)
	}
}

// TestListenerReconnectCatchesUp: on PostgreSQL, when the bus's listener
// connection dies, lib/pq reconnects and reports the gap (a nil
// notification); the hub then catches up from the database. The hub's poll
// is an hour here, so only that path can deliver the message.
func TestListenerReconnectCatchesUp(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only")
	}
	e := newEnv(t, withPoll(time.Hour))
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	e.send(chen.AccessToken, ch.ID, "over the bus", nil)
	if body, _ := sub.message(5 * time.Second); body != "over the bus" {
		t.Fatalf("got %q, want the message delivered by its event", body)
	}
	e.writeSilently(t, ch.ID, chen.User.ID, "found by the catch-up")
	if body, _ := sub.message(500 * time.Millisecond); body != "" {
		t.Fatalf("got %q without any event: the test cannot tell the paths apart", body)
	}
	res, err := e.db.SQL.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("found no listener connection to kill")
	}
	if body, _ := sub.message(10 * time.Second); body != "found by the catch-up" {
		t.Fatalf("after the listener reconnected got %q, want the message committed meanwhile", body)
	}
}

// TestNeverReceiveSuppressesNotificationsNotCounts: with "never receive
// direct messages" on, group messages still arrive (without notify) and
// notifications are not pushed, but the unread badge still counts both.
func TestNeverReceiveSuppressesNotificationsNotCounts(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}, "name": "Ward"})
	e.ok(kim.AccessToken, `mutation { updatePreferences(input: {neverReceiveDirect: true}) { id } }`, nil, nil)
	msgs := e.listen(t, kim.AccessToken, `subscription { messageAdded { body notify } }`, nil)
	notes := e.listen(t, kim.AccessToken, `subscription { notificationAdded { title } }`, nil)
	badge := e.subscribe(t, kim.AccessToken, `subscription { unreadBadge { total } }`, nil)
	total := func(want float64) float64 {
		n := -1.0
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			d := badge.next(time.Until(deadline))
			if d == nil {
				break
			}
			if n = d["unreadBadge"].(map[string]any)["total"].(float64); n == want {
				return n
			}
		}
		return n
	}
	if n := total(0); n != 0 {
		t.Fatalf("initial badge %v, want 0", n)
	}

	e.send(chen.AccessToken, g.ID, "ward round at 9", nil)
	d := msgs.next(5 * time.Second)
	if d == nil {
		t.Fatal("a group message did not arrive with never receive on")
	}
	if m := d["messageAdded"].(map[string]any); m["body"] != "ward round at 9" || m["notify"] != false {
		t.Errorf("got %v, want the group message with notify false", m)
	}
	if n := total(1); n != 1 {
		t.Errorf("badge after a group message %v, want 1 (it still counts)", n)
	}
	const create = `mutation($u: [ID!], $t: String!) { createNotification(input: {kind: LAB_REPORT, title: $t, userIDs: $u}) { id } }`
	e.ok(demo.IntegrationKey, create, map[string]any{"u": []string{kim.User.ID}, "t": "Lipids ready"}, nil)
	if n := total(2); n != 2 {
		t.Errorf("badge after a notification %v, want 2 (it still counts)", n)
	}
	if d := notes.next(300 * time.Millisecond); d != nil {
		t.Errorf("notificationAdded pushed %v with never receive on", d)
	}
	// Turned off, the same push arrives: the test can tell.
	e.ok(kim.AccessToken, `mutation { updatePreferences(input: {neverReceiveDirect: false}) { id } }`, nil, nil)
	e.ok(demo.IntegrationKey, create, map[string]any{"u": []string{kim.User.ID}, "t": "Bloods ready"}, nil)
	if d := notes.next(5 * time.Second); d == nil || d["notificationAdded"].(map[string]any)["title"] != "Bloods ready" {
		t.Errorf("with never receive off notificationAdded got %v, want Bloods ready", d)
	}
}

// TestStreamsEndWhenAccessEnds: when any replica ends a principal's live
// connections (their account is deactivated, their access changes), each of
// their streams ends with UNAUTHENTICATED and that reason; another user's
// socket stays open.
func TestStreamsEndWhenAccessEnds(t *testing.T) {
	for _, reason := range []string{pubsub.EndDeactivated, pubsub.EndAccessChanged} {
		t.Run(reason, func(t *testing.T) {
			e := newEnv(t)
			patel, chen := e.login(demo.PatelEmail), e.login(demo.ChenEmail)
			sub := e.listen(t, patel.AccessToken, messageAdded, nil)
			other := e.listen(t, chen.AccessToken, messageAdded, nil)
			e.bus.Publish(context.Background(), pubsub.Event{Kind: pubsub.AccessEnded, Users: []pulid.ID{pulid.ID(patel.User.ID)}, Change: reason})
			if got := closeReason(t, sub.c, 5*time.Second); !strings.Contains(got, reason) || !strings.Contains(got, "UNAUTHENTICATED") {
				t.Errorf("the stream ended with %s, want UNAUTHENTICATED / %s", got, reason)
			}
			// Dr Chen's socket still delivers.
			ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{e.userID(chen.AccessToken, demo.KimEmail)}})
			e.ok(chen.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "still here"}) { id } }`,
				map[string]any{"c": ch.ID}, nil)
			if body, _ := other.message(5 * time.Second); body != "still here" {
				t.Errorf("another user's stream gave %q, want the new message", body)
			}
		})
	}
}

// TestForeignWriteTransactionDoesNotHoldDelivery: a write transaction that
// writes no messages (a person in psql, a bulk import, a migration) is not
// waited for: delivery goes on while it stays open.
func TestForeignWriteTransactionDoesNotHoldDelivery(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: SQLite serialises writers")
	}
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	sub := e.listen(t, patel.AccessToken, messageAdded, nil)
	db, err := sql.Open("postgres", e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE security_groups SET name = name"); err != nil {
		t.Fatal(err)
	}
	e.send(chen.AccessToken, ch.ID, "not held back", nil)
	if body, _ := sub.message(3 * time.Second); body != "not held back" {
		t.Errorf("with a foreign write transaction open, got %q", body)
	}
}
