package graph_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// everyStream is one subscription of each Subscription field, as the
// administrator (who may open all of them) takes them; observeUser watches
// the user given as $u.
var everyStream = map[string]string{
	"messageAdded":             `subscription { messageAdded { id body channel { id unreadCount } } }`,
	"unreadBadge":              `subscription { unreadBadge { total channels { unread channel { id unreadCount } } } }`,
	"channelUpdated":           `subscription { channelUpdated { type channel { id name unreadCount members { id name } } } }`,
	"conversationStatsUpdated": `subscription { conversationStatsUpdated { unreadMessages totalMessages } }`,
	"notificationAdded":        `subscription { notificationAdded { id title kind } }`,
	"observeUser":              `subscription($u: ID!) { observeUser(userID: $u) { id body } }`,
}

// TestEveryStreamIsListed keeps everyStream complete: a new Subscription
// field must be added to it, so the endings below are proven for it too.
func TestEveryStreamIsListed(t *testing.T) {
	e := newEnv(t)
	var out struct {
		Type struct{ Fields []struct{ Name string } } `json:"__type"`
	}
	e.ok("", `{ __type(name: "Subscription") { fields { name } } }`, nil, &out)
	for _, f := range out.Type.Fields {
		if _, ok := everyStream[f.Name]; !ok {
			t.Errorf("Subscription.%s is not in everyStream: add it, so its endings are tested", f.Name)
		}
	}
}

// subscribeAll subscribes to every stream on c (ids are the field names),
// waiting until each is registered.
func subscribeAll(t *testing.T, c *wsClient, ready <-chan struct{}, observed string) {
	t.Helper()
	names := make([]string, 0, len(everyStream))
	for name := range everyStream {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c.send(map[string]any{"id": name, "type": "subscribe", "payload": map[string]any{
			"query": everyStream[name], "variables": map[string]any{"u": observed},
		}})
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			msg, err := c.read(time.Second)
			t.Fatalf("%s was not registered within 10 s (socket: %v, %v)", name, msg, err)
		}
	}
}

// endsWith checks that every stream ended with want (code/reason).
func endsWith(t *testing.T, ends map[string]string, want string) {
	t.Helper()
	for name := range everyStream {
		if got := ends[name]; got != want {
			t.Errorf("%s ended with %q, want %s (never a bare complete)", name, got, want)
		}
	}
}

func TestEveryStreamEndsWithServerShutdown(t *testing.T) {
	e := newEnv(t)
	admin, patel := e.login(demo.AdminEmail), e.login(demo.PatelEmail)
	c, ready := readySocket(t, e, admin.AccessToken)
	subscribeAll(t, c, ready, patel.User.ID)
	go e.gql.Drain(context.Background())
	ends, status := endingsOf(t, c)
	endsWith(t, ends, `"UNAVAILABLE"/"SERVER_SHUTDOWN"`)
	if status != websocket.StatusGoingAway {
		t.Errorf("socket closed with %d, want 1001 (going away)", status)
	}
}

// smallBuffers shrinks the kernel's socket buffers of accepted
// connections, so a client that stops reading holds the server's writes
// after a few kilobytes rather than megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
		_ = tc.SetReadBuffer(4096)
	}
	return c, err
}

// stalledSocket opens a socket, as token, over small socket buffers, with
// every stream subscribed, whose client then stops reading until the test
// reads its endings.
//
// The returned channel is signalled when one of its streams falls behind
// (the hub drops it), so the test reads only once that happened.
func stalledSocket(t *testing.T, e *env, token, observed string) (*wsClient, <-chan struct{}) {
	t.Helper()
	ready, behind := make(chan struct{}, 64), make(chan struct{}, 64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { ready <- struct{}{} })
		ctx = live.OnFellBehind(ctx, func() { behind <- struct{}{} })
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &wsClient{t: t, conn: conn}
	// Read only up to the acknowledgement and the streams' first values.
	c.inbox = make(chan wsRead, 1024)
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("init: %s %v", b, err)
	}
	subscribeAll(t, c, ready, observed)
	return c, behind
}

// TestEveryStreamIsToldItFellBehind: whichever stream's queue overflows
// while its client is not reading — messages, channel events or
// notifications — every stream of the socket ends with UNAVAILABLE /
// SLOW_CONSUMER (the client resumes or reloads), then the socket closes
// with 1001. The hub's queues hold one release here.
func TestEveryStreamIsToldItFellBehind(t *testing.T) {
	floods := map[string]func(t *testing.T, e *env, adminID, chenID, ch string){
		"messageAdded": func(t *testing.T, e *env, adminID, chenID, ch string) {
			body := strings.Repeat("x", 1000)
			for range 6 {
				e.writeMany(t, ch, chenID, body, 500)
			}
		},
		"channelUpdated": func(t *testing.T, e *env, adminID, chenID, ch string) {
			events := make([]pubsub.Event, 1500)
			for i := range events {
				events[i] = pubsub.Event{Kind: pubsub.ChannelChanged, Channel: pulid.ID(ch), Users: []pulid.ID{pulid.ID(adminID)}, Change: "RENAMED"}
			}
			for chunk := range slices.Chunk(events, 100) {
				e.bus.Publish(context.Background(), chunk...)
			}
		},
		"notificationAdded": func(t *testing.T, e *env, adminID, chenID, ch string) {
			ctx := viewer.NewSystemContext(context.Background(), "test")
			var events []pubsub.Event
			for range 3 {
				creates := make([]*ent.NotificationCreate, 500)
				for i := range creates {
					creates[i] = e.db.Client.Notification.Create().SetRecipientID(pulid.ID(adminID)).SetKind(notification.KindANNOUNCEMENT).
						SetTitle(strings.Repeat("n", 150)).SetDeliverAt(e.clock.Now())
				}
				for _, n := range e.db.Client.Notification.CreateBulk(creates...).SaveX(ctx) {
					events = append(events, pubsub.Event{Kind: pubsub.Notification, Users: []pulid.ID{n.RecipientID}, Message: n.ID})
				}
			}
			for chunk := range slices.Chunk(events, 100) {
				e.bus.Publish(context.Background(), chunk...)
			}
		},
	}
	for name, flood := range floods {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(s *envSetup) { s.cfg.LiveBuffer = 1 })
			admin, chen, patel := e.login(demo.AdminEmail), e.login(demo.ChenEmail), e.login(demo.PatelEmail)
			ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{admin.User.ID}})
			c, behind := stalledSocket(t, e, admin.AccessToken, patel.User.ID)
			flood(t, e, admin.User.ID, chen.User.ID, ch.ID)
			select {
			case <-behind:
			case <-time.After(60 * time.Second):
				t.Fatal("no stream fell behind")
			}
			ends, status := endingsOf(t, newWSClient(t, c.conn))
			endsWith(t, ends, `"UNAVAILABLE"/"SLOW_CONSUMER"`)
			if status != websocket.StatusGoingAway {
				t.Errorf("socket closed with %d, want 1001", status)
			}
		})
	}
}

// TestBadgeChannelsAreCurrent: the Channel inside each unreadBadge event is
// read when the event is delivered, not when the subscription started, so
// a normalised client cache (Apollo's) is never overwritten with stale
// values: in every event the channel's unreadCount and lastMessage are the
// server's at that time.
func TestBadgeChannelsAreCurrent(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	badge := e.listen(t, patel.AccessToken,
		`subscription { unreadBadge { total channels { unread channel { id unreadCount lastMessage { id } } } } }`, nil)
	var sent []string
	check := func(d map[string]any) (unread int) {
		t.Helper()
		for _, c := range d["unreadBadge"].(map[string]any)["channels"].([]any) {
			c := c.(map[string]any)
			got := c["channel"].(map[string]any)
			if got["id"] != ch.ID {
				continue
			}
			unread = int(c["unread"].(float64))
			if n := int(got["unreadCount"].(float64)); n != unread {
				t.Errorf("an event says %d unread but its channel's unreadCount is %d", unread, n)
			}
			last, _ := got["lastMessage"].(map[string]any)
			if unread > len(sent) || last == nil || last["id"] != sent[unread-1] {
				t.Errorf("with %d of %d messages unread the event's channel.lastMessage is %v, want %s", unread, len(sent), last, sent[min(unread, len(sent))-1])
			}
		}
		return unread
	}
	for i := 1; i <= 3; i++ {
		sent = append(sent, e.send(chen.AccessToken, ch.ID, fmt.Sprintf("message %d", i), nil).ID)
		for {
			d := badge.next(5 * time.Second)
			if d == nil {
				t.Fatalf("no badge event showing message %d", i)
			}
			if check(d) == i {
				break
			}
		}
	}
	// The server agrees with the last event.
	var out struct{ Node struct{ UnreadCount int } }
	e.ok(patel.AccessToken, `query($id: ID!) { node(id: $id) { ... on Channel { unreadCount } } }`, map[string]any{"id": ch.ID}, &out)
	if out.Node.UnreadCount != 3 {
		t.Errorf("the server says %d unread, want 3", out.Node.UnreadCount)
	}
}

// TestChannelUpdatedChannelsAreCurrent: the Channel inside each
// channelUpdated event is read when the event is delivered, as the viewer,
// like unreadBadge's (TestBadgeChannelsAreCurrent): after several messages
// and a read mark, each member's event shows the unreadCount, messageCount
// and lastMessage a query answers that member at that time.
func TestChannelUpdatedChannelsAreCurrent(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	const fields = `id name unreadCount messageCount lastMessage { id body }`
	members := map[string]string{"patel": patel.AccessToken, "kim": kim.AccessToken}
	streams := map[string]*subscription{}
	for who, tok := range members {
		streams[who] = e.listen(t, tok, `subscription { channelUpdated { type channel { `+fields+` } } }`, nil)
	}
	for round := 1; round <= 3; round++ {
		for i := 1; i <= round; i++ {
			e.send(chen.AccessToken, g.ID, fmt.Sprintf("round %d message %d", round, i), nil)
		}
		if round == 2 {
			// Kim reads: her count and Patel's part.
			e.ok(kim.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": g.ID}, nil)
		}
		name := fmt.Sprintf("Round %d", round)
		e.ok(chen.AccessToken, `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"channelID": g.ID, "name": name}}, nil)
		for who, tok := range members {
			var got map[string]any
			for got == nil {
				d := streams[who].next(5 * time.Second)
				if d == nil {
					t.Fatalf("round %d: %s got no RENAMED event with a channel", round, who)
				}
				ev := d["channelUpdated"].(map[string]any)
				if ev["type"] == "RENAMED" {
					got, _ = ev["channel"].(map[string]any)
				}
			}
			var now struct{ Node map[string]any }
			e.ok(tok, `query($id: ID!) { node(id: $id) { ... on Channel { `+fields+` } } }`, map[string]any{"id": g.ID}, &now)
			if asJSON(got) != asJSON(now.Node) || now.Node["name"] != name {
				t.Errorf("round %d: %s's event carries %s, a query now says %s", round, who, asJSON(got), asJSON(now.Node))
			}
		}
	}
}

// TestFromNowLeavesOutWhatCommittedBefore: an all-channels messageAdded
// without a cursor starts now. A message committed before the subscription
// started but released by the hub only after it registered (the hub had
// not caught up yet) is not delivered; the next one is. The hub's poll is
// an hour here, so only the second send's event releases the first.
func TestFromNowLeavesOutWhatCommittedBefore(t *testing.T) {
	e := newEnv(t, withPoll(time.Hour))
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.writeSilently(t, ch.ID, chen.User.ID, "before the subscription")
	sub := e.listen(t, patel.AccessToken, `subscription { messageAdded { body } }`, nil)
	e.send(chen.AccessToken, ch.ID, "after it", nil)
	if body, _ := sub.message(5 * time.Second); body != "after it" {
		t.Errorf("a stream started now first got %q, want the message sent after it started", body)
	}
}
