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
