package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// endingsOf reads c until it closes and returns, per subscription id, how
// each stream ended ("complete" or the error's code/reason) and the close
// status.
func endingsOf(t *testing.T, c *wsClient) (map[string]string, websocket.StatusCode) {
	t.Helper()
	ends := map[string]string{}
	for {
		msg, err := c.read(30 * time.Second)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the socket stayed open")
			}
			return ends, websocket.CloseStatus(err)
		}
		id, _ := msg["id"].(string)
		switch msg["type"] {
		case "complete":
			if _, ended := ends[id]; !ended {
				ends[id] = "complete"
			}
		case "error":
			errs, _ := msg["payload"].([]any)
			if len(errs) > 0 {
				ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
				ends[id] = mustJSON(ext["code"]) + "/" + mustJSON(ext["reason"])
			}
		}
	}
}

func TestShutdownEndsEachSubscriptionWithUnavailable(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	c, ready := readySocket(t, e, patel.AccessToken)
	for _, id := range []string{"a", "b", "c"} {
		vars := map[string]any{}
		if id == "b" {
			vars["c"] = ch.ID
		}
		c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": messageAdded, "variables": vars}})
		waitReady(t, ready)
	}
	go e.gql.Drain(context.Background())
	ends, status := endingsOf(t, c)
	for _, id := range []string{"a", "b", "c"} {
		if got := ends[id]; got != `"UNAVAILABLE"/"SERVER_SHUTDOWN"` {
			t.Errorf("subscription %s ended with %s, want UNAVAILABLE/SERVER_SHUTDOWN (never a bare complete)", id, got)
		}
	}
	if status != websocket.StatusGoingAway {
		t.Errorf("socket closed with %d, want 1001 (going away)", status)
	}
}

// writeMany commits n messages of body to channel ch from sender in one
// transaction, without an event (the hub's poll finds them).
func (e *env) writeMany(t *testing.T, ch, sender, body string, n int) {
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
	var creates []*ent.MessageCreate
	for i := range n {
		creates = append(creates, tx.Message.Create().SetChannelID(c.ID).SetSeq(c.LastSeq+int64(i)+1).SetTxid(txid).
			SetSenderID(pulidOf(sender)).SetBody(body))
	}
	tx.Message.CreateBulk(creates...).ExecX(ctx)
	tx.Channel.UpdateOne(c).SetLastSeq(c.LastSeq + int64(n)).AddMessageCount(n).ExecX(ctx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestSlowConsumerIsToldToResume: a subscriber that stops reading falls
// behind and is dropped; its streams end with UNAVAILABLE / SLOW_CONSUMER
// (not a bare complete) and the socket closes with 1001.
func TestSlowConsumerIsToldToResume(t *testing.T) {
	e := newEnv(t, func(s *envSetup) { s.cfg.LiveBuffer = 1 })
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	ready := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { ready <- struct{}{} })
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	// A client that stops reading once subscribed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	write := func(m map[string]any) {
		b, _ := json.Marshal(m)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + patel.AccessToken}})
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("init: %s %v", b, err)
	}
	write(map[string]any{"id": "slow", "type": "subscribe", "payload": map[string]any{"query": messageAdded}})
	waitReady(t, ready)
	body := strings.Repeat("x", 3900)
	for range 16 {
		e.writeMany(t, ch.ID, chen.User.ID, body, 500)
	}
	ends, status := endingsOf(t, newWSClient(t, conn))
	if got := ends["slow"]; got != `"UNAVAILABLE"/"SLOW_CONSUMER"` {
		t.Errorf("the slow stream ended with %q, want UNAVAILABLE/SLOW_CONSUMER", got)
	}
	if status != websocket.StatusGoingAway {
		t.Errorf("socket closed with %d, want 1001", status)
	}
}
