package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// A transaction begun elsewhere that announces itself late places its
// message at the next transaction id as it saw it. Once it commits with
// nothing else running, that id is still the horizon: the hub must move it
// on rather than hold the message until the next write anywhere.
func TestLateWriterIsReleasedWithNothingElseRunning(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite serialises writers")
	}
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	chen, patel := f.as(demo.ChenEmail), f.as(demo.PatelEmail)
	conv, err := f.msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(patel)
	defer cancel()
	sub, err := f.hub.Messages(sctx, &conv.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := func(want string) {
		t.Helper()
		select {
		case m := <-sub:
			if m == nil || m.Body != want {
				t.Fatalf("got %v, want %q", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q was not delivered within 5 s", want)
		}
	}

	// The caller's transaction takes its id first…
	ctx := viewer.NewSystemContext(context.Background(), "test")
	tx, err := f.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	scalar := func(q string) int64 {
		t.Helper()
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var v int64
		rows.Next()
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	scalar("SELECT pg_current_xact_id()::text::bigint")
	// …a send commits meanwhile, and is delivered…
	if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "first"}); err != nil {
		t.Fatal(err)
	}
	next("first")
	// …then it announces itself and writes at the next id it sees.
	scalar(fmt.Sprintf("SELECT 0 FROM (SELECT pg_advisory_xact_lock_shared(%d, %d)) l", store.MessageWriterLockClass, store.MessageWriterLockID))
	floor := scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
	ch := tx.Channel.Query().Where(channel.ID(conv.ID)).ForUpdate().OnlyX(ctx)
	tx.Message.Create().SetChannelID(ch.ID).SetSeq(ch.LastSeq + 1).SetTxid(floor).
		SetSenderID(viewer.FromContext(chen).UserID).SetBody("late").SaveX(ctx)
	tx.Channel.UpdateOne(ch).SetLastSeq(ch.LastSeq + 1).SetLastTxid(floor).AddMessageCount(1).ExecX(ctx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	f.bus.Publish(ctx, pubsub.Event{Kind: pubsub.Message, Channel: conv.ID})
	next("late")
}
