package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/argon2"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

const (
	// maxWarmup is how many warm-up messages may be sent while waiting for
	// every subscription to be live; they share the index space with the
	// measured messages (warm-ups first).
	maxWarmup = 30
	// fullWarmups is how many warm-up messages every subscriber must
	// receive before measuring.
	fullWarmups = 3
	// deliveryTimeout bounds the wait for one message to reach everyone.
	deliveryTimeout = 10 * time.Second
	// dialConcurrency bounds the websocket handshakes in flight.
	dialConcurrency = 64
)

const messageAddedSubscription = `subscription($c: ID) { messageAdded(channelID: $c) { id body } }`

// runFanout measures delivery of messages to N websocket subscribers of one
// group channel against a plain websocket broadcast server.
func runFanout(ctx context.Context, srv *server, o Options) (Result, error) {
	n := o.Subscribers
	logf("bench: fanout: %d subscribers, %d messages, ours and baseline taking turns", n, o.Messages)
	t0 := time.Now()
	channelID, emails, err := makeSubscribers(ctx, srv, n, o.RealHash)
	if err != nil {
		return Result{}, err
	}
	logf("bench: fanout: %d users in the group channel in %v", n, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	tokens, err := signIn(ctx, srv, emails)
	if err != nil {
		return Result{}, err
	}
	logf("bench: fanout: %d users signed in in %v", n, time.Since(t0).Round(time.Millisecond))
	chenToken, _, err := srv.login(ctx, demo.ChenEmail, demo.Password)
	if err != nil {
		return Result{}, err
	}

	// Ours: N graphql-transport-ws subscriptions, in this process or, with
	// -fanout-procs, in child processes.
	t0 = time.Now()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	ours := newTracker(n, o.Messages)
	var clients clientSet
	if o.FanoutProcs > 0 {
		clients, err = startClientProcs(ctx, o.FanoutProcs, clientOrders{URL: wsURL, Tokens: tokens, ChannelID: channelID}, n, ours)
	} else {
		clients, err = dialAll(ctx, n, func(ctx context.Context, i int) (*websocket.Conn, error) {
			return dialGraphQL(ctx, wsURL, tokens[i], channelID)
		}, ours)
	}
	defer clients.close()
	if err != nil {
		return Result{}, err
	}
	logf("bench: fanout: %d graphql-transport-ws subscriptions open in %v%s", n, time.Since(t0).Round(time.Millisecond), procsNote(o.FanoutProcs))
	sendOurs := func(ctx context.Context, body string) error {
		return srv.do(ctx, chenToken, sendMutation, map[string]any{"input": map[string]any{"channelID": channelID, "body": body}}, nil)
	}
	if err := ours.warmUp(ctx, sendOurs); err != nil {
		return Result{}, fmt.Errorf("ours: %w%s", err, oldestWriters(ctx, srv))
	}
	template := ours.template()
	if template == nil {
		return Result{}, fmt.Errorf("ours: could not capture a delivered message")
	}

	// Baseline: N plain websockets of a broadcast server that writes them
	// the bytes our subscribers received; with -fanout-procs the server and
	// the clients run in child processes.
	t0 = time.Now()
	var bc baselineServer
	if o.FanoutProcs > 0 {
		bc, err = startBroadcasterProc(ctx, template)
	} else {
		pprof.Do(ctx, pprof.Labels("side", "baseline"), func(context.Context) {
			var b *broadcaster
			if b, err = startBroadcaster(); err == nil {
				bc = &localBaseline{b: b, template: template}
			}
		})
	}
	if err != nil {
		return Result{}, err
	}
	defer bc.Close()
	base := newTracker(n, o.Messages)
	var bclients clientSet
	if o.FanoutProcs > 0 {
		bclients, err = startClientProcs(ctx, o.FanoutProcs, clientOrders{URL: bc.URL()}, n, base)
	} else {
		bclients, err = dialAll(ctx, n, func(ctx context.Context, _ int) (*websocket.Conn, error) {
			c, _, err := websocket.Dial(ctx, bc.URL(), nil)
			return c, err
		}, base)
	}
	defer bclients.close()
	if err != nil {
		return Result{}, err
	}
	if err := bc.waitFor(ctx, n); err != nil {
		return Result{}, err
	}
	logf("bench: fanout: %d plain websockets open in %v%s", n, time.Since(t0).Round(time.Millisecond), procsNote(o.FanoutProcs))
	sendBase := func(ctx context.Context, body string) error {
		var err error
		pprof.Do(ctx, pprof.Labels("side", "baseline"), func(context.Context) { err = bc.broadcast(body) })
		return err
	}
	if err := base.warmUp(ctx, sendBase); err != nil {
		return Result{}, fmt.Errorf("baseline: %w", err)
	}

	// Measure: ours and the baseline take turns, one message at a time, so
	// that both meet the same background load.
	stop, err := profile(o, "fanout")
	if err != nil {
		return Result{}, err
	}
	defer stop()
	var ourElapsed, baseElapsed time.Duration
	for i := range o.Messages {
		k := maxWarmup + i
		first, second := func() error {
			el, err := ours.deliver(ctx, k, sendOurs)
			ourElapsed += el
			return err
		}, func() error {
			el, err := base.deliver(ctx, k, sendBase)
			baseElapsed += el
			return err
		}
		if i%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return Result{}, err
		}
		if err := second(); err != nil {
			return Result{}, err
		}
	}
	stop()
	clients.close()
	bclients.close()
	ourLat, ourDeliveries := clients.latencies()
	baseLat, baseDeliveries := bclients.latencies()

	want := n * o.Messages
	if ourDeliveries < want || baseDeliveries < want {
		logf("bench: fanout: WARNING: deliveries ours %d, baseline %d, of %d expected", ourDeliveries, baseDeliveries, want)
	}
	if f := ours.failures.Load(); f > 0 {
		logf("bench: fanout: WARNING: %d subscriptions reported an error or ended early (first: %s)", f, ours.firstFailure())
	}
	r := Result{
		Name:     "fanout",
		Ours:     float64(ourDeliveries) / ourElapsed.Seconds(),
		Baseline: float64(baseDeliveries) / baseElapsed.Seconds(),
	}
	r.Ratio = ratio(r.Ours, r.Baseline)
	r.P50, r.P99 = percentile(ourLat, 50), percentile(ourLat, 99)
	r.BaselineP50, r.BaselineP99 = percentile(baseLat, 50), percentile(baseLat, 99)
	logf("bench: fanout: ours %d deliveries in %v, baseline %d in %v", ourDeliveries, ourElapsed.Round(time.Millisecond), baseDeliveries, baseElapsed.Round(time.Millisecond))
	osend, of, ol := ours.spread()
	_, bf, bl := base.spread()
	logf("bench: fanout: medians per message: sendMessage call %.1f ms; send to first delivery ours %.1f ms, baseline %.1f ms; first to last delivery ours %.1f ms, baseline %.1f ms", osend, of, bf, ol, bl)
	return r, nil
}

// oldestWriters describes the oldest transactions holding a transaction id
// anywhere on the PostgreSQL server: the hub releases messages only below
// the oldest of them, so a long one stalls live delivery.
func oldestWriters(ctx context.Context, srv *server) string {
	rows, err := srv.db.SQL.QueryContext(ctx, `SELECT coalesce(datname, ''), pid, now() - xact_start, coalesce(state, ''), left(query, 80)
		FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start LIMIT 3`)
	if err != nil {
		return ""
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var db, state, query, age string
		var pid int
		if rows.Scan(&db, &pid, &age, &state, &query) == nil {
			out = append(out, fmt.Sprintf("database %s pid %d open %s (%s): %s", db, pid, age, state, query))
		}
	}
	if len(out) == 0 {
		return "; no open write transaction on the server (rerun with -server-log for the server's warnings)"
	}
	return "; open write transactions hold back live delivery: " + strings.Join(out, "; ")
}

// makeSubscribers creates n staff users in the demo "Default" security group
// (which grants ACCESS_WHISPER), all with the demo password, and builds the
// group's channel; it returns the channel and the users' emails.
//
// Unless realHash is set, the shared password hash is an argon2id hash with
// minimal cost parameters: sign-in reads the parameters from the stored
// hash, so the login mutation runs unchanged, but 1000 sign-ins take a
// second instead of a minute on two cores. Sign-in is not what this
// scenario measures.
func makeSubscribers(ctx context.Context, srv *server, n int, realHash bool) (pulid.ID, []string, error) {
	emails, group, err := createUsers(ctx, srv, "subscriber", n, realHash)
	if err != nil {
		return "", nil, err
	}
	ch, err := srv.app.Messenger.EnsureGroupChannel(ctx, group)
	if err != nil {
		return "", nil, fmt.Errorf("building the group channel: %w", err)
	}
	return ch.ID, emails, nil
}

// createUsers creates n staff users bench.<kind>.<i>@bench.clinic in the
// demo "Default" security group, all with the demo password (see
// makeSubscribers for the hash), and returns their emails and the group.
func createUsers(ctx context.Context, srv *server, kind string, n int, realHash bool) ([]string, pulid.ID, error) {
	sctx := viewer.NewSystemContext(ctx, "bench")
	client := srv.db.Client
	group, err := client.SecurityGroup.Query().Where(securitygroup.Name("Default")).Only(sctx)
	if err != nil {
		return nil, "", fmt.Errorf("finding the Default security group: %w", err)
	}
	hash, err := subscriberHash(realHash)
	if err != nil {
		return nil, "", err
	}
	emails := make([]string, n)
	const batch = 250
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		builders := make([]*ent.UserCreate, 0, hi-lo)
		for i := lo; i < hi; i++ {
			emails[i] = fmt.Sprintf("bench.%s.%05d@bench.clinic", kind, i)
			builders = append(builders, client.User.Create().
				SetName(fmt.Sprintf("Bench %s %05d", kind, i)).
				SetEmail(emails[i]).
				SetJobTitle("Benchmark "+kind).
				SetPasswordHash(hash).
				AddSecurityGroupIDs(group.ID))
		}
		if _, err := client.User.CreateBulk(builders...).Save(sctx); err != nil {
			return nil, "", fmt.Errorf("creating %s users: %w", kind, err)
		}
	}
	return emails, group.ID, nil
}

// subscriberHash returns the PHC string every subscriber shares: the real
// auth.HashPassword, or the same format with m = 64 KiB, t = 1.
func subscriberHash(real bool) (string, error) {
	if real {
		return auth.HashPassword(demo.Password)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const m, t, p = 64, 1, 1
	key := argon2.IDKey([]byte(demo.Password), salt, t, m, p, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// signIn signs every user in through the login mutation, a few at a time
// (each sign-in checks an argon2id hash), and returns their access tokens.
func signIn(ctx context.Context, srv *server, emails []string) ([]string, error) {
	tokens := make([]string, len(emails))
	_, _, err := loop(ctx, 8, len(emails), func(ctx context.Context, i int) error {
		tok, _, err := srv.login(ctx, emails[i], demo.Password)
		tokens[i] = tok
		return err
	})
	return tokens, err
}

// dialGraphQL opens a graphql-transport-ws websocket, authenticates it and
// subscribes to messageAdded in channelID.
func dialGraphQL(ctx context.Context, url, token string, channelID pulid.ID) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*websocket.Conn, error) {
		_ = c.CloseNow()
		return nil, err
	}
	if err := writeJSONMsg(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return fail(err)
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		var m struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(data, &m)
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "ping" {
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`)); err != nil {
				return fail(err)
			}
			continue
		}
		return fail(fmt.Errorf("waiting for connection_ack, got %s", truncate(string(data), 200)))
	}
	err = writeJSONMsg(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     messageAddedSubscription,
		"variables": map[string]any{"c": channelID},
	}})
	if err != nil {
		return fail(err)
	}
	return c, nil
}

func writeJSONMsg(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

// subscriber is one websocket client and what it measured.
type subscriber struct {
	conn   *websocket.Conn
	lat    []time.Duration
	warmed bool
	done   chan struct{}
}

// dialAll opens n websockets, a few at a time, and starts reading each
// into t.
func dialAll(ctx context.Context, n int, dial func(context.Context, int) (*websocket.Conn, error), t *tracker) (localClients, error) {
	subs := make(localClients, n)
	_, _, err := loop(ctx, dialConcurrency, n, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := dial(dctx, i)
		if err != nil {
			return fmt.Errorf("opening websocket %d: %w", i, err)
		}
		s := &subscriber{conn: c, done: make(chan struct{}), lat: make([]time.Duration, 0, t.messages)}
		subs[i] = s
		go t.read(s)
		return nil
	})
	return subs, err
}

// clientSet is the subscribers of one side of the fanout scenario, in this
// process (localClients) or in child processes (clientProcs).
type clientSet interface {
	// close closes the websockets and waits until every delivery has been
	// recorded; closing twice is harmless.
	close()
	// latencies returns the measured deliveries' latencies and their
	// number; it is called after close.
	latencies() ([]time.Duration, int)
}

// localClients are subscribers read by goroutines of this process.
type localClients []*subscriber

func (l localClients) close() { closeAll(l) }

func (l localClients) latencies() ([]time.Duration, int) {
	var all []time.Duration
	for _, s := range l {
		if s != nil {
			all = append(all, s.lat...)
		}
	}
	return all, len(all)
}

// closeAll closes the clients and waits for their readers to stop; closing
// twice is harmless.
func closeAll(subs []*subscriber) {
	for _, s := range subs {
		if s != nil {
			_ = s.conn.CloseNow()
		}
	}
	for _, s := range subs {
		if s != nil {
			<-s.done
		}
	}
}

// tracker counts deliveries per message. Message k's body is
// "bench <k> <send time in Unix nanoseconds>"; indexes below maxWarmup are
// warm-ups.
type tracker struct {
	subs     int
	messages int
	warmed   atomic.Int64
	counts   []atomic.Int64
	done     []chan struct{}
	finished []time.Time    // set before done[k] is closed
	first    []atomic.Int64 // Unix nanoseconds of message k's first delivery
	sent     []time.Time
	sendTook []time.Duration
	failures atomic.Int64
	failure  atomic.Pointer[string]
	captured atomic.Pointer[[]byte]
}

func newTracker(subs, messages int) *tracker {
	t := &tracker{
		subs:     subs,
		messages: messages,
		counts:   make([]atomic.Int64, maxWarmup+messages),
		done:     make([]chan struct{}, maxWarmup+messages),
		finished: make([]time.Time, maxWarmup+messages),
		first:    make([]atomic.Int64, maxWarmup+messages),
		sent:     make([]time.Time, maxWarmup+messages),
		sendTook: make([]time.Duration, maxWarmup+messages),
	}
	for i := range t.done {
		t.done[i] = make(chan struct{})
	}
	return t
}

// wireMessage is what a subscriber decodes from each websocket message.
type wireMessage struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

type nextPayload struct {
	Data struct {
		MessageAdded struct {
			Body string `json:"body"`
		} `json:"messageAdded"`
	} `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

// read consumes one websocket until it closes: it answers pings and records
// the latency of every message from its embedded send time.
func (t *tracker) read(s *subscriber) {
	defer close(s.done)
	ctx := context.Background()
	for {
		_, data, err := s.conn.Read(ctx)
		now := time.Now()
		if err != nil {
			return
		}
		f := parseFrame(data)
		switch {
		case f.ping:
			_ = s.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case f.failure != "":
			t.fail(f.failure)
		case f.bench:
			if f.k < 0 || f.k >= len(t.counts) {
				continue // not one of ours
			}
			if t.captured.Load() == nil {
				b := bytes.Clone(data)
				t.captured.CompareAndSwap(nil, &b)
			}
			t.note(&s.warmed, &s.lat, f.k, f.sent, now)
		}
	}
}

// frame is what a subscriber makes of one websocket message.
type frame struct {
	// ping asks for a pong.
	ping bool
	// failure, when set, describes an error or an unexpected message.
	failure string
	// bench marks a delivery of message k, sent at sent.
	bench bool
	k     int
	sent  time.Time
}

// parseFrame decodes one websocket message of a subscriber: a "next" of
// the messageAdded subscription (ours and the baseline's alike), a ping or
// pong, or anything else (a failure).
func parseFrame(data []byte) frame {
	var m wireMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return frame{failure: "undecodable message: " + truncate(string(data), 200)}
	}
	switch m.Type {
	case "ping":
		return frame{ping: true}
	case "pong":
		return frame{}
	case "next":
	default:
		return frame{failure: truncate(string(data), 300)}
	}
	var p nextPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		return frame{failure: truncate(string(data), 300)}
	}
	k, sent, ok := parseBody(p.Data.MessageAdded.Body)
	if !ok {
		return frame{} // not one of ours
	}
	return frame{bench: true, k: k, sent: sent}
}

// note records one delivery of message k (sent at sent, received at now) to
// the subscriber whose warm-up flag and latencies are warmed and lat. Calls
// for one subscriber must not overlap.
func (t *tracker) note(warmed *bool, lat *[]time.Duration, k int, sent, now time.Time) {
	if k < maxWarmup {
		if !*warmed {
			*warmed = true
			t.warmed.Add(1)
		}
	} else {
		*lat = append(*lat, now.Sub(sent))
	}
	t.first[k].CompareAndSwap(0, now.UnixNano())
	if t.counts[k].Add(1) == int64(t.subs) {
		t.finished[k] = now
		close(t.done[k])
	}
}

func (t *tracker) fail(what string) {
	t.failures.Add(1)
	t.failure.CompareAndSwap(nil, &what)
}

func (t *tracker) firstFailure() string {
	if p := t.failure.Load(); p != nil {
		return *p
	}
	return ""
}

func body(k int, sent time.Time) string {
	return "bench " + strconv.Itoa(k) + " " + strconv.FormatInt(sent.UnixNano(), 10)
}

func parseBody(b string) (k int, sent time.Time, ok bool) {
	f := strings.Fields(b)
	if len(f) != 3 || f[0] != "bench" {
		return 0, time.Time{}, false
	}
	k, err1 := strconv.Atoi(f[1])
	ns, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return k, time.Unix(0, ns), true
}

// warmUp sends warm-up messages until every subscriber has received one
// (subscriptions start asynchronously), then fullWarmups more that must
// reach everyone.
func (t *tracker) warmUp(ctx context.Context, send func(context.Context, string) error) error {
	full := 0
	for k := 0; k < maxWarmup; k++ {
		if err := send(ctx, body(k, time.Now())); err != nil {
			return fmt.Errorf("sending warm-up %d: %w", k, err)
		}
		wait := time.Second
		if t.warmed.Load() == int64(t.subs) {
			wait = deliveryTimeout
		}
		select {
		case <-t.done[k]:
			full++
			if full >= fullWarmups {
				return nil
			}
		case <-time.After(wait):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return fmt.Errorf("after %d warm-up messages only %d of %d subscribers receive (%s)",
		maxWarmup, t.warmed.Load(), t.subs, t.firstFailure())
}

// deliver sends message k and waits until it has reached every subscriber
// (or deliveryTimeout has passed); it returns the time from the send to the
// last delivery.
func (t *tracker) deliver(ctx context.Context, k int, send func(context.Context, string) error) (time.Duration, error) {
	start := time.Now()
	if err := send(ctx, body(k, start)); err != nil {
		return 0, fmt.Errorf("sending message %d: %w", k-maxWarmup, err)
	}
	t.sent[k] = start
	t.sendTook[k] = time.Since(start)
	select {
	case <-t.done[k]:
		return t.finished[k].Sub(start), nil
	case <-time.After(deliveryTimeout):
		logf("bench: fanout: message %d reached %d of %d subscribers within %v", k-maxWarmup, t.counts[k].Load(), t.subs, deliveryTimeout)
		return time.Since(start), nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// spread returns, over the measured messages, the median time the send
// call took, from the send to the first delivery and from the first
// delivery to the last, in milliseconds.
func (t *tracker) spread() (send, toFirst, firstToLast float64) {
	var a, b, c []time.Duration
	for k := maxWarmup; k < len(t.counts); k++ {
		f := t.first[k].Load()
		if f == 0 || t.finished[k].IsZero() {
			continue
		}
		a = append(a, time.Unix(0, f).Sub(t.sent[k]))
		b = append(b, t.finished[k].Sub(time.Unix(0, f)))
		c = append(c, t.sendTook[k])
	}
	return percentile(c, 50), percentile(a, 50), percentile(b, 50)
}

// template is a captured "next" message with its body cut out.
type template struct{ before, after []byte }

func (t *tracker) template() *template {
	p := t.captured.Load()
	if p == nil {
		return nil
	}
	var m wireMessage
	var np nextPayload
	if json.Unmarshal(*p, &m) != nil || json.Unmarshal(m.Payload, &np) != nil {
		return nil
	}
	b := []byte(np.Data.MessageAdded.Body)
	i := bytes.Index(*p, b)
	if i < 0 {
		return nil
	}
	return &template{before: (*p)[:i], after: (*p)[i+len(b):]}
}

// with is the captured message carrying body instead.
func (t *template) with(body string) []byte {
	out := make([]byte, 0, len(t.before)+len(body)+len(t.after))
	out = append(out, t.before...)
	out = append(out, body...)
	return append(out, t.after...)
}

// baselineServer is the fanout baseline's broadcast server, in this
// process (localBaseline) or in a child process (broadcasterProc).
type baselineServer interface {
	// URL is the websocket address clients dial.
	URL() string
	// waitFor waits until n clients are registered.
	waitFor(ctx context.Context, n int) error
	// broadcast writes the captured "next" frame, carrying body, to every
	// client.
	broadcast(body string) error
	// Close stops the server.
	Close()
}

// localBaseline is the broadcaster in this process.
type localBaseline struct {
	b        *broadcaster
	template *template
}

func (l *localBaseline) URL() string { return l.b.url }

func (l *localBaseline) waitFor(ctx context.Context, n int) error { return l.b.waitFor(ctx, n) }

func (l *localBaseline) broadcast(body string) error {
	l.b.broadcast(l.template.with(body))
	return nil
}

func (l *localBaseline) Close() { l.b.Close() }

// broadcaster is the fanout baseline: a plain websocket server that writes
// each broadcast to every connected client through a per-client writer
// goroutine.
type broadcaster struct {
	url  string
	http *http.Server

	mu      sync.Mutex
	clients map[chan []byte]struct{}
}

func startBroadcaster() (*broadcaster, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &broadcaster{url: "ws://" + ln.Addr().String() + "/", clients: map[chan []byte]struct{}{}}
	b.http = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.http.Serve(ln) }()
	return b, nil
}

// ServeHTTP accepts one client and writes it every broadcast until it
// goes away.
func (b *broadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	out := make(chan []byte, 512)
	b.mu.Lock()
	b.clients[out] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.clients, out)
		b.mu.Unlock()
	}()
	ctx := c.CloseRead(context.Background())
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-out:
			if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
				return
			}
		}
	}
}

func (b *broadcaster) broadcast(msg []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for out := range b.clients {
		select {
		case out <- msg:
		default: // a client this far behind misses the message
		}
	}
}

// waitFor waits until n clients are registered.
func (b *broadcaster) waitFor(ctx context.Context, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.mu.Lock()
		have := len(b.clients)
		b.mu.Unlock()
		if have >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("baseline: %d of %d clients registered: %w", have, n, errTimeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (b *broadcaster) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.http.Shutdown(ctx)
}
