package graph

// SharedExecutions reports how many times h executed the selection of a
// shareable messageAdded event (see share.go), for the tests.
func SharedExecutions(h *Handler) int64 { return h.share.executions.Load() }

func init() { checkEnvelopes = true }
