package graph

// SharedExecutions reports how many times h executed the selection of a
// shareable messageAdded event (see share.go), for the tests.
func SharedExecutions(h *Handler) int64 { return h.share.executions.Load() }

func init() { checkEnvelopes = true }

// OnSocketReleased has h call f each time a websocket is done (closed, out
// of the registry and no longer counted as open), for the tests.
func OnSocketReleased(h *Handler, f func()) { h.socketReleased = f }

// DirectWrites reports how many subscription events h's hub wrote straight
// to a socket (see messageShare.writeDirect).
func DirectWrites(h *Handler) int64 { return h.share.direct.Load() }

// LaggingWrites reports how many subscription events h's hub left to the
// subscription's goroutine because its client lagged.
func LaggingWrites(h *Handler) int64 { return h.share.lagging.Load() }
