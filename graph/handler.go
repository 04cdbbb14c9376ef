package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/whisper-health/whisper/internal/trail"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/throttle"
	"github.com/whisper-health/whisper/internal/viewer"
)

// HandlerConfig tunes the GraphQL endpoint. Zero values take the defaults.
type HandlerConfig struct {
	// Introspection enables schema introspection (off in production).
	Introspection bool
	// MaxDepth is the deepest selection allowed (default 12).
	MaxDepth int
	// MaxComplexity is the highest query cost allowed (default 5000).
	MaxComplexity int
	// MaxPageSize is the largest first/last any list accepts (default
	// DefaultMaxPageSize); a larger one is refused with BAD_USER_INPUT /
	// PAGE_TOO_LARGE before anything runs.
	MaxPageSize int
	// MaxBodyBytes bounds a request body and a websocket message (default 1 MiB).
	MaxBodyBytes int64
	// ParserTokenLimit bounds the tokens in one query document (default 15000).
	ParserTokenLimit int
	// MaxSelections bounds the selections (fields, fragments) written in
	// one document, refused before validation (default 1000).
	MaxSelections int
	// MaxAliases bounds the aliased fields in one document (default 100).
	MaxAliases int
	// MaxFragmentSpreads bounds the fragment spreads in one document
	// (default 100).
	MaxFragmentSpreads int
	// OperationTimeout bounds one query or mutation over HTTP (default 30 s).
	OperationTimeout time.Duration
	// WebsocketOrigins are host patterns (e.g. "app.example.com",
	// "localhost:*") whose pages may open websockets; same-origin is always
	// allowed.
	WebsocketOrigins []string
	// InitTimeout is how long a websocket may wait before connection_init
	// (default 10 s).
	InitTimeout time.Duration
	// PingInterval is how often the server pings websocket clients
	// (default 25 s); a client that stops answering is dropped.
	PingInterval time.Duration
	// MaxSubscriptions bounds the live subscriptions of one websocket
	// (default 64); more are refused with RESOURCE_EXHAUSTED.
	MaxSubscriptions int
	// MaxSocketsPerUser bounds the websockets of one principal on this
	// replica (default 16); the subscriptions of further sockets are
	// refused with RESOURCE_EXHAUSTED.
	MaxSocketsPerUser int
	// PersistedQueryBytes bounds the text the automatic persisted query
	// cache holds (default DefaultPersistedQueryBytes); negative turns
	// automatic persisted queries off.
	PersistedQueryBytes int
	// Extensions are added to the gqlgen server (metrics, for instance).
	Extensions []graphql.HandlerExtension
	// TrustedProxies are the load balancers and reverse proxies in front of
	// the service. A request from one of them is from the right-most
	// X-Forwarded-For address that is not itself trusted; every other
	// request is from its peer address, X-Forwarded-For ignored. The
	// per-address limits (password checks, failed sign-ins, websocket
	// inits) key on that address.
	TrustedProxies []netip.Prefix
}

func (c *HandlerConfig) defaults() {
	if c.MaxDepth == 0 {
		c.MaxDepth = 12
	}
	if c.MaxComplexity == 0 {
		c.MaxComplexity = 5000
	}
	if c.MaxPageSize == 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.ParserTokenLimit == 0 {
		c.ParserTokenLimit = 15000
	}
	if c.MaxSelections == 0 {
		c.MaxSelections = DefaultMaxSelections
	}
	if c.MaxAliases == 0 {
		c.MaxAliases = DefaultMaxAliases
	}
	if c.MaxFragmentSpreads == 0 {
		c.MaxFragmentSpreads = DefaultMaxSpreads
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 64
	}
	if c.MaxSocketsPerUser == 0 {
		c.MaxSocketsPerUser = 16
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = 30 * time.Second
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PersistedQueryBytes == 0 {
		c.PersistedQueryBytes = DefaultPersistedQueryBytes
	}
}

// Handler serves /graphql over POST, GET, server-sent events and websockets.
type Handler struct {
	srv  *handler.Server
	auth *auth.Service
	log  *slog.Logger
	cfg  HandlerConfig

	drainCtx    context.Context
	drain       context.CancelFunc
	initFails   *throttle.Limiter
	open        sockets
	sockets     sync.WaitGroup
	socketCount atomic.Int64
	// socketReleased, when set (tests), is called each time a websocket
	// stops counting as open.
	socketReleased func()
	share          *messageShare
}

// NewHandler builds the GraphQL endpoint over r.
func NewHandler(r *Resolver, cfg HandlerConfig) *Handler {
	cfg.defaults()
	r.MaxPageSize = cfg.MaxPageSize
	h := &Handler{auth: r.Auth, log: r.Log, cfg: cfg, initFails: throttle.New(10, time.Minute), share: newMessageShare(cfg.Extensions)}
	h.drainCtx, h.drain = context.WithCancel(context.Background())

	srv := handler.New(NewSchema(r))
	srv.AddTransport(wsTransport{
		accept: goingAway{WebsocketImplementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: cfg.WebsocketOrigins},
		}, ping: newPinger(cfg.PingInterval)}, // graphql-transport-ws ping/pong, one goroutine for all
		initFunc:    h.initSocket,
		initTimeout: cfg.InitTimeout,
		keepAlive:   cfg.PingInterval, // legacy graphql-ws keep-alive
		readLimit:   cfg.MaxBodyBytes,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	// Server-sent events (graphql-sse's distinct connections mode) before
	// POST, which would otherwise take the same requests.
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: cfg.PingInterval})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(cfg.ParserTokenLimit)
	srv.SetValidationRulesFn(cappedRules)
	if cfg.PersistedQueryBytes > 0 {
		// Apollo's createPersistedQueryLink, over POST and GET: a hash the
		// cache lacks is PERSISTED_QUERY_NOT_FOUND and the client sends the
		// query with it once.
		srv.Use(extension.AutomaticPersistedQuery{Cache: newPersistedQueries(cfg.PersistedQueryBytes)})
	}
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
	}
	srv.Use(credentials{})
	srv.Use(newDocumentLimits(cfg.ParserTokenLimit, cfg.MaxSelections, cfg.MaxAliases, cfg.MaxFragmentSpreads))
	srv.Use(queryLimits{maxDepth: cfg.MaxDepth, maxComplexity: cfg.MaxComplexity, maxPage: cfg.MaxPageSize})
	for _, ext := range cfg.Extensions {
		srv.Use(ext)
	}
	srv.AroundOperations(auditPatientReads(r))
	srv.AroundOperations(boundOperations(cfg.OperationTimeout, presentError(r.Log)))
	srv.Use(sessionEnds{present: presentError(r.Log)})
	srv.Use(h.share) // inside sessionEnds: see share.go
	srv.AroundRootFields(signInContext)
	srv.AroundFields(checkText)
	srv.AroundFields(markResolverErrors)
	present := presentError(r.Log)
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		out := present(ctx, err)
		if !cfg.Introspection {
			out.Message = withoutSuggestions(out.Message)
		}
		return out
	})
	srv.SetRecoverFunc(recoverPanic(r.Log))
	h.srv = srv
	return h
}

// Server exposes the gqlgen server, so the caller can add extensions such
// as metrics.
func (h *Handler) Server() *handler.Server { return h.srv }

// ServeHTTP authenticates the request (HTTP: the Authorization header;
// websockets: the connection_init payload) and runs the operation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := withClient(r.Context(), auth.Meta{UserAgent: r.UserAgent(), IP: clientIP(r, h.cfg.TrustedProxies)})
	if isWebsocket(r) {
		h.serveWebsocket(w, r.WithContext(ctx))
		return
	}
	req := &httpRequest{}
	ctx = context.WithValue(ctx, httpRequestKey{}, req)
	rw := &responseShaper{ResponseWriter: w, req: req, media: responseMediaType(r)}
	defer rw.finish()
	w = rw
	if r.Body != nil && r.Method == http.MethodPost {
		if !isJSON(r.Header.Get("Content-Type")) {
			writeError(w, http.StatusUnsupportedMediaType,
				apperr.New(apperr.BadUserInput, "a POST body must be application/json"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge,
				apperr.New(apperr.BadUserInput, "request body is larger than %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		if !validUTF8JSON(body) {
			writeError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "request body is not valid UTF-8"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if !validQuery(r) {
		writeError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "request parameters are not valid UTF-8"))
		return
	}
	// A refused credential is not answered here: the operations that
	// ignore Authorization (signing in, refreshing, redeeming a link) must
	// still run with a stale header; the others are refused once the
	// document is known (see credentials).
	var (
		v       *viewer.Viewer
		expires time.Time
	)
	if header := r.Header.Get("Authorization"); header != "" {
		bearer, ok := bearerToken(header)
		var err error
		if !ok {
			err = apperr.Because(apperr.Unauthenticated, auth.RefusedTokenInvalid, "Authorization header must be \"Bearer <token>\"")
		} else {
			v, expires, err = h.auth.Authenticate(ctx, bearer)
		}
		if err != nil {
			if _, safe := apperr.As(err); !safe {
				h.log.ErrorContext(ctx, "authenticating request", "err", err)
				writeError(w, http.StatusServiceUnavailable, err)
				return
			}
			v, req.refused = nil, err
		}
	}
	if v != nil {
		ctx = viewer.NewContext(ctx, v)
	}
	if h.isEventStream(r) {
		ctx = context.WithValue(ctx, sseRequestKey{}, true)
	}
	if h.isEventStream(r) && v != nil {
		// A stream of server-sent events lives like a websocket: until
		// its token expires, its session is revoked or the server drains,
		// ending with a reason; it counts among its principal's sockets.
		h.sockets.Add(1)
		defer h.sockets.Done()
		ctx = h.openSocket(context.WithValue(ctx, eventStreamKey{}, true), v, expires)
		h.srv.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.OperationTimeout)
	defer cancel()
	h.srv.ServeHTTP(w, r.WithContext(ctx))
}

// serveWebsocket serves a websocket request. Once the socket is open its
// read loop runs on a goroutine of its own and the request's handler
// returns (see wsTransport.Do): an idle socket keeps no handler stack. The
// socket counts as open (Drain waits for it) until that goroutine ends.
func (h *Handler) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	h.sockets.Add(1)
	h.socketCount.Add(1)
	ws := newWSState(func() {
		h.socketCount.Add(-1)
		if h.socketReleased != nil {
			h.socketReleased()
		}
		h.sockets.Done()
	})
	h.srv.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), wsStateKey{}, ws)))
	if !ws.detached {
		ws.release()
	}
}

// initSocket authenticates a websocket from its connection_init payload. The
// context it returns ends when the access token expires, when the session
// is revoked, or when the server drains; the socket then closes.
func (h *Handler) initSocket(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	ip := clientFromContext(ctx).IP
	// A valid credential is always accepted: failures from an address (a
	// stale tab, a neighbour behind the same NAT) never lock out its good
	// tokens. Only genuinely invalid credentials are throttled: an expired
	// or revoked token Whisper issued is refused without counting, and a
	// database error is not a refusal: it closes with 4500, which
	// graphql-ws clients retry.
	refuse := func(err error) (context.Context, *transport.InitPayload, error) {
		if e, ok := apperr.As(err); ok && e.Reason != "" {
			// The close frame says why, as HTTP's extensions.reason does
			// (TOKEN_EXPIRED: refresh and reconnect).
			ctx = withCloseReason(ctx, e.Reason)
		}
		return withWSCloseCode(ctx, 4403), nil, err
	}
	reject := func(err error) (context.Context, *transport.InitPayload, error) {
		if h.initFails.Blocked(ip, time.Now()) {
			return withWSCloseCode(ctx, 4429), nil, apperr.New(apperr.Unauthenticated, "too many failed connection attempts; try again later")
		}
		h.initFails.Fail(ip, time.Now())
		return refuse(err)
	}
	bearer, ok := bearerToken(payload.Authorization())
	if !ok {
		return reject(apperr.Because(apperr.Unauthenticated, auth.RefusedTokenInvalid, "connection_init must carry {\"Authorization\": \"Bearer <token>\"}"))
	}
	v, expires, err := h.auth.Authenticate(ctx, bearer)
	if err != nil {
		if _, safe := apperr.As(err); !safe {
			h.log.ErrorContext(ctx, "authenticating websocket", "err", err)
			return withWSCloseCode(ctx, 4500), nil, apperr.New(apperr.Internal, "could not authenticate; try again")
		}
		if errors.Is(err, auth.ErrTokenExpired) || errors.Is(err, auth.ErrSessionRevoked) {
			// A token Whisper issued (its signature holds), expired or
			// signed out: a stale tab or a client about to refresh, not a
			// guess. Refused, never counted.
			return refuse(err)
		}
		return reject(err)
	}
	ctx = viewer.NewContext(ctx, v)
	ctx = withCloseReason(ctx, closeReasonPending)
	ctx = h.openSocket(ctx, v, expires)
	return closeReasonContext{ctx}, nil, nil
}

// closeReasonPending marks where the socket's close reason is looked up;
// closeReasonContext answers with the cause the context ended with.
const closeReasonPending = "session ended"

// closeReasonContext reports the cause its context ended with as the
// websocket's close reason, which gqlgen reads only once the context ends.
type closeReasonContext struct{ context.Context }

// Value implements context.Context.
func (c closeReasonContext) Value(key any) any {
	v := c.Context.Value(key)
	if r, ok := v.(string); ok && r == closeReasonPending {
		if cause := context.Cause(c.Context); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause.Error()
		}
	}
	return v
}

// streamEnds makes the reason a live stream gives when the server ends it
// the subscription's error, sent before the stream completes: FORBIDDEN or
// NOT_FOUND when the viewer lost access, UNAVAILABLE with a reason when the
// server could not keep the stream. A subscriber that fell behind ends its
// whole socket (every stream of it ends with SLOW_CONSUMER, then the socket
// closes with 1001): one mechanism for every stream, in socket.go.
func streamEnds(ctx context.Context, present graphql.ErrorPresenterFunc) context.Context {
	return live.OnEnd(ctx, func(err error) {
		if errors.Is(err, live.ErrSlowConsumer) && endSocketFor(ctx, SlowConsumer) {
			return
		}
		out := present(ctx, err)
		switch {
		case errors.Is(err, live.ErrSlowConsumer):
			out.Extensions["reason"] = string(SlowConsumer)
		case errors.Is(err, live.ErrEventsLost):
			out.Extensions["reason"] = EventsLost
		}
		endStream(ctx, out)
	})
}

// Drain closes every open websocket (clients reconnect to another replica)
// and waits for them to finish, or for ctx to end.
func (h *Handler) Drain(ctx context.Context) {
	h.drain()
	done := make(chan struct{})
	go func() {
		h.sockets.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// OpenSockets reports how many websockets are open.
func (h *Handler) OpenSockets() int { return int(h.socketCount.Load()) }

// sseRequestKey marks the context of a request that asked for server-sent
// events (with or without a usable token).
type sseRequestKey struct{}

// eventStreamKey marks the context of a request answered with server-sent
// events, whose subscriptions end with a last event (see endStream).
type eventStreamKey struct{}

// isEventStream reports whether r asks for server-sent events.
func (h *Handler) isEventStream(r *http.Request) bool { return transport.SSE{}.Supports(r) }

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func bearerToken(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

// writeError answers a request that never reached GraphQL execution.
func writeError(w http.ResponseWriter, status int, err error) {
	ext := map[string]any{"code": apperr.Internal}
	msg := "internal error"
	if e, ok := apperr.As(err); ok {
		ext["code"], msg = e.Code, e.Message
		if e.Reason != "" {
			ext["reason"] = e.Reason
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": ext}},
	})
}

// clientIP is the address r comes from: its peer's, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For entry that is not a trusted
// proxy (entries to its left are the client's to write, and may be forged).
// When every entry is trusted it is the left-most; an entry that is not an
// address stops the walk at the proxy that wrote it.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return client.String()
}

// isTrusted reports whether a is in one of the trusted ranges.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func withClient(ctx context.Context, m auth.Meta) context.Context {
	return auth.NewClientContext(ctx, m)
}

func clientFromContext(ctx context.Context) auth.Meta { return auth.ClientFromContext(ctx) }

// boundOperations bounds every query and mutation by OperationTimeout and
// answers one that ran out of it with an error rather than nothing (gqlgen
// ends a response whose context is done with no response, which a POST
// writes as a bare null). Over plain HTTP the request's context carries the
// bound; a query or mutation sent over server-sent events (graphql-sse lets
// any operation use them) gets it here, counted from the operation's start,
// since that request is not bounded: a subscription lives as long as its
// stream.
func boundOperations(timeout time.Duration, present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx).Operation
		if op == nil || op.Operation == ast.Subscription {
			return next(ctx)
		}
		deadline, stream := time.Time{}, ctx.Value(eventStreamKey{}) != nil
		if stream {
			deadline = time.Now().Add(timeout)
		}
		responses := next(ctx)
		answered := false
		return func(ctx context.Context) *graphql.Response {
			if stream {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
			r := responses(ctx)
			if r == nil && !answered && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r = &graphql.Response{Errors: gqlerror.List{present(ctx, context.DeadlineExceeded)}}
			}
			answered = answered || r != nil
			return r
		}
	}
}

// auditPatientReads gives each operation a read log (see
// trail.AuditPatientReads) and writes the patient records it read to the
// access log once each response — each event of a subscription — is done.
func auditPatientReads(r *Resolver) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		ctx, reads := trail.WithReadLog(ctx)
		responses := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			// A subscription parks in responses between events: this
			// frame stays small (see sessionEnds).
			resp := responses(ctx)
			flushReads(ctx, r, reads)
			return resp
		}
	}
}

// flushReads writes the patient records read while answering to the
// access log.
//
//go:noinline
func flushReads(ctx context.Context, r *Resolver, reads *trail.ReadLog) {
	if reads.Empty() {
		return // most responses, and every shared event
	}
	if err := reads.Flush(context.WithoutCancel(ctx), r.Client); err != nil {
		r.Log.Error("recording patient reads", "err", err)
	}
}
