package live

import "context"

type readyKey struct{}

// OnReady returns ctx carrying ready: a stream started with it (messages,
// badge, channel events, notifications or conversation stats) calls ready
// once, as soon as the hub has registered it — from then on every change
// reaches the stream. graphql-transport-ws has no acknowledgement of a
// subscription, so a caller that must act only once the stream listens
// (a test, a transport that wants to confirm) waits for this rather than
// guessing a delay.
func OnReady(ctx context.Context, ready func()) context.Context {
	return context.WithValue(ctx, readyKey{}, ready)
}

// reportReady tells the caller of OnReady that the stream started with
// ctx is registered.
func reportReady(ctx context.Context) {
	if ready, ok := ctx.Value(readyKey{}).(func()); ok {
		ready()
	}
}

type behindKey struct{}

// OnFellBehind returns ctx carrying behind: a stream started with it calls
// behind when the hub drops it for falling behind (its queue was full),
// just before its end is reported. A caller that holds a client still to
// see that moment (a test of a client that stopped reading) waits for it.
func OnFellBehind(ctx context.Context, behind func()) context.Context {
	return context.WithValue(ctx, behindKey{}, behind)
}

// reportFellBehind tells the caller of OnFellBehind that the stream started
// with ctx fell behind.
func reportFellBehind(ctx context.Context) {
	if behind, ok := ctx.Value(behindKey{}).(func()); ok {
		behind()
	}
}
