package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
)

// The limits scenario (SPEC §14) measures two things:
//
//   - refusals: the CPU one refused hostile document costs the process
//     (server and client share it), per kind, against a plain
//     { __typename }; and the CPU of the largest document accepted.
//   - held: delivery latency to one messageAdded subscriber with a 10 s
//     foreign write transaction open (UPDATE security_groups in another
//     session) against none open. The goal is no difference.

// hostileBench are the documents of issue 11, as graph's tests refuse them.
func hostileBench() map[string]string {
	aliases := func(n int, f func(int) string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: %s\n", i, f(i))
		}
		return b.String()
	}
	return map[string]string{
		"1000 login aliases": "mutation {" + aliases(1000, func(i int) string {
			return fmt.Sprintf(`login(email: "u%d@x.test", password: "x") { __typename }`, i)
		}) + "}",
		"20 login aliases": "mutation {" + aliases(20, func(int) string {
			return `login(email: "nurse.kim@demo.clinic", password: "x") { __typename }`
		}) + "}",
		"14000 __typename": "{ u1: __typename " + strings.Repeat("__typename ", 14000) + "}",
		"200 spreads":      "{ ...F " + strings.Repeat("...F ", 200) + "} fragment F on Query { __typename }",
		"450 users(first: i)": "{" + func() string {
			var b strings.Builder
			for i := range 450 {
				fmt.Fprintf(&b, "users(first: %d) { totalCount }\n", i)
			}
			return b.String()
		}() + "}",
		"NUL in login":      "mutation { login(email: \"a\\u0000@x.test\", password: \"x\") { __typename } }",
		"largest accepted*": "{ " + aliases(99, func(int) string { return "__typename" }) + strings.Repeat("__typename ", 900) + "}",
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPer posts query n times and returns the CPU per request and the
// latencies.
func cpuPer(ctx context.Context, srv *server, query string, n int) (time.Duration, []time.Duration) {
	var lat []time.Duration
	c0 := cpuTime()
	for range n {
		t := time.Now()
		_ = srv.do(ctx, "", query, nil, nil) // refusals are errors here
		lat = append(lat, time.Since(t))
	}
	return (cpuTime() - c0) / time.Duration(n), lat
}

func runLimits(ctx context.Context, srv *server, o Options) ([]Result, error) {
	const n = 50
	logf("bench: limits: CPU per refused hostile document (%d each; * = accepted)", n)
	base, baseLat := cpuPer(ctx, srv, "{ __typename }", n)
	logf("bench: limits:   %-20s %8.0f µs CPU", "{ __typename }", float64(base)/1e3)
	var worst time.Duration
	var lat []time.Duration
	for name, q := range hostileBench() {
		per, l := cpuPer(ctx, srv, q, n)
		logf("bench: limits:   %-20s %8.0f µs CPU", name, float64(per)/1e3)
		if !strings.HasSuffix(name, "*") {
			worst = max(worst, per)
			lat = append(lat, l...)
		}
	}
	refusals := Result{
		Name:        "limits-refusal",
		Ours:        1 / worst.Seconds(),
		Baseline:    1 / base.Seconds(),
		P50:         percentile(lat, 50),
		P99:         percentile(lat, 99),
		BaselineP50: percentile(baseLat, 50),
		BaselineP99: percentile(baseLat, 99),
	}
	refusals.Ratio = ratio(refusals.Ours, refusals.Baseline)

	held, err := runHeld(ctx, srv, o)
	if err != nil {
		return nil, err
	}
	return []Result{refusals, held}, nil
}

// runHeld measures delivery latency to one subscriber without and with a
// foreign write transaction open for 10 s.
func runHeld(ctx context.Context, srv *server, o Options) (Result, error) {
	chen, _, err := srv.login(ctx, demo.ChenEmail, demo.Password)
	if err != nil {
		return Result{}, err
	}
	patel, patelID, err := srv.login(ctx, demo.PatelEmail, demo.Password)
	if err != nil {
		return Result{}, err
	}
	var open struct {
		OpenConversation struct {
			ID string `json:"id"`
		} `json:"openConversation"`
	}
	if err := srv.do(ctx, chen, `mutation($u: ID!) { openConversation(input: {userIDs: [$u]}) { id } }`, map[string]any{"u": patelID}, &open); err != nil {
		return Result{}, err
	}
	ch := open.OpenConversation.ID
	conn, err := dialGraphQL(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), patel, pulid.ID(ch))
	if err != nil {
		return Result{}, err
	}
	defer conn.CloseNow()
	measure := func(window time.Duration) ([]time.Duration, error) {
		var lat []time.Duration
		end := time.Now().Add(window)
		for k := 0; time.Now().Before(end); k++ {
			body := fmt.Sprintf("held %d", k)
			t := time.Now()
			if err := srv.do(ctx, chen, `mutation($c: ID!, $b: String!) { sendMessage(input: {channelID: $c, body: $b}) { id } }`,
				map[string]any{"c": ch, "b": body}, nil); err != nil {
				return nil, err
			}
			for {
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, data, err := conn.Read(rctx)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("waiting for %q: %w", body, err)
				}
				if strings.Contains(string(data), `"type":"ping"`) {
					_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
					continue
				}
				if strings.Contains(string(data), body+`"`) {
					break
				}
			}
			lat = append(lat, time.Since(t))
		}
		return lat, nil
	}
	// Warm up, then without a foreign transaction.
	if _, err := measure(time.Second); err != nil {
		return Result{}, err
	}
	base, err := measure(10 * time.Second)
	if err != nil {
		return Result{}, err
	}
	// With a foreign write transaction open for the whole 10 s.
	db, err := sql.Open("postgres", srv.dsn)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "UPDATE security_groups SET name = name"); err != nil {
		return Result{}, errors.Join(errors.New("opening the foreign transaction"), err)
	}
	ours, err := measure(10 * time.Second)
	if err != nil {
		return Result{}, err
	}
	r := Result{
		Name:        "limits-held-tx",
		Ours:        float64(len(ours)) / 10,
		Baseline:    float64(len(base)) / 10,
		P50:         percentile(ours, 50),
		P99:         percentile(ours, 99),
		BaselineP50: percentile(base, 50),
		BaselineP99: percentile(base, 99),
	}
	r.Ratio = ratio(r.Ours, r.Baseline)
	return r, nil
}
