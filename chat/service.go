package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/internal/hours"
)

// Options configures a Service. Store is required; every other field has a
// working default.
type Options struct {
	Store     Store           // required; NewSQLiteStore(db)
	Broker    Broker          // nil: NewMemoryBroker() (a single node)
	Presence  Presence        // nil: NewMemoryPresence(Now, 0) (a single node)
	Schedule  *hours.Schedule // support hours; nil: always open
	Tickets   TicketCreator   // nil: leave_message answers an error
	Suggester Suggester       // nil: no FAQ suggestions
	Mailer    Mailer          // nil: transcript answers an error

	Logger     *slog.Logger          // nil: slog.Default()
	Now        func() time.Time      // nil: time.Now
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	NodeID     string                // identifies this process in connection ids; default random

	// NodeEvents, when set, is called (in a broker goroutine; it must not
	// block) with the data of every PublishNode, from any node, this one
	// included. The search index uses it for invalidation.
	NodeEvents func(data []byte)

	Capacity      int           // concurrent chats per agent; default 3
	OfferTimeout  time.Duration // an offer not accepted by then moves on; default 30s
	RouteInterval time.Duration // routing pass without a trigger; default 1s
	QueueRefresh  time.Duration // waiting customers get a fresh estimate at least this often; default 10s
	Heartbeat     time.Duration // presence re-announcement; default DefaultHeartbeat (10s)
	DefaultHandle time.Duration // handle time assumed before there is history; default 4m

	// AgentGone: an active chat whose agent has had no connection for this
	// long goes back to the queue; default 2m (long enough for a reload,
	// a node restart, or presence rebuilding after a Redis restart).
	// CustomerGone: a waiting chat whose customer has had no socket open
	// for this long is closed; default 10m. See ReclaimInput.
	AgentGone    time.Duration
	CustomerGone time.Duration

	Limits Limits
}

// Limits are the per-connection safety limits. Zero fields take the
// defaults shown.
type Limits struct {
	HelloTimeout  time.Duration // customer socket without hello is closed (1008); 10s
	ReadLimit     int64         // largest frame; larger closes with 1009; 64 KiB
	SendQueue     int           // frames waiting to be written; a full queue drops the connection; 256
	WriteTimeout  time.Duration // one frame write; 10s
	PingInterval  time.Duration // 25s
	PongWait      time.Duration // silence after which the peer is gone; 60s
	CustomerRate  float64       // frames per second; 5
	CustomerBurst float64       // 20
	AgentRate     float64       // 20
	AgentBurst    float64       // 60
	AbuseRate     float64       // refused frames forgiven per second; 1
	AbuseBurst    float64       // refused frames beyond which the socket is closed (1008); 20
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.HelloTimeout, 10*time.Second)
	def(&l.WriteTimeout, 10*time.Second)
	def(&l.PingInterval, 25*time.Second)
	def(&l.PongWait, 60*time.Second)
	if l.ReadLimit <= 0 {
		l.ReadLimit = 64 << 10
	}
	if l.SendQueue <= 0 {
		l.SendQueue = 256
	}
	deff(&l.CustomerRate, 5)
	deff(&l.CustomerBurst, 20)
	deff(&l.AgentRate, 20)
	deff(&l.AgentBurst, 60)
	deff(&l.AbuseRate, 1)
	deff(&l.AbuseBurst, 20)
	return l
}

// Service is live chat on one node. It is safe for concurrent use. New
// starts its background goroutines (routing, presence heartbeats, the
// broker's receiver); Close stops them and every connection.
type Service struct {
	store     Store
	broker    Broker
	presence  Presence
	sched     *hours.Schedule
	tickets   TicketCreator
	suggester Suggester
	mailer    Mailer
	log       *slog.Logger
	now       func() time.Time
	nodeID    string
	onNode    func([]byte)
	limits    Limits
	m         *metrics
	hub       *hub

	capacity      int
	offerTimeout  time.Duration
	routeInterval time.Duration
	queueRefresh  time.Duration
	heartbeat     time.Duration
	defaultHandle time.Duration
	agentGone     time.Duration
	customerGone  time.Duration
	reclaimEvery  time.Duration // how often the router looks for gone people
	seenEvery     time.Duration // how often live customers are recorded as seen

	ctx     context.Context // cancelled by Close; parent of every connection
	stop    context.CancelFunc
	bg      sync.WaitGroup // background goroutines
	connSeq atomic.Uint64
	closing atomic.Bool

	mu    sync.Mutex
	conns map[*conn]struct{}
	idle  chan struct{} // closed when conns becomes empty while closing

	routeMu    sync.Mutex           // one routing pass at a time on this node
	queueSent  map[int64]queueFrame // last queue frame published per conversation; guarded by routeMu
	kick       chan struct{}        // wakes the router; capacity 1
	queueDirty atomic.Bool
	resyncDue  atomic.Bool // a publish failed: ask every node to re-read once the broker works

	handleMu    sync.Mutex
	handleAvg   time.Duration
	handleUntil time.Time
}

// New returns a running Service. It returns an error when Store is missing
// or the metrics cannot be registered.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("chat: Options.Store is required")
	}
	s := &Service{
		store:         opts.Store,
		broker:        opts.Broker,
		presence:      opts.Presence,
		sched:         opts.Schedule,
		tickets:       opts.Tickets,
		suggester:     opts.Suggester,
		mailer:        opts.Mailer,
		log:           opts.Logger,
		now:           opts.Now,
		nodeID:        opts.NodeID,
		onNode:        opts.NodeEvents,
		limits:        opts.Limits.withDefaults(),
		capacity:      opts.Capacity,
		offerTimeout:  opts.OfferTimeout,
		routeInterval: opts.RouteInterval,
		queueRefresh:  opts.QueueRefresh,
		heartbeat:     opts.Heartbeat,
		defaultHandle: opts.DefaultHandle,
		agentGone:     opts.AgentGone,
		customerGone:  opts.CustomerGone,
		conns:         map[*conn]struct{}{},
		kick:          make(chan struct{}, 1),
		queueSent:     map[int64]queueFrame{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.nodeID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		s.nodeID = hex.EncodeToString(b[:])
	}
	if s.broker == nil {
		s.broker = NewMemoryBroker()
	}
	if s.presence == nil {
		s.presence = NewMemoryPresence(s.now, 0)
	}
	if s.capacity <= 0 {
		s.capacity = 3
	}
	if s.offerTimeout <= 0 {
		s.offerTimeout = 30 * time.Second
	}
	if s.routeInterval <= 0 {
		s.routeInterval = time.Second
	}
	if s.queueRefresh <= 0 {
		s.queueRefresh = 10 * time.Second
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.defaultHandle <= 0 {
		s.defaultHandle = 4 * time.Minute
	}
	if s.agentGone <= 0 {
		s.agentGone = 2 * time.Minute
	}
	if s.customerGone <= 0 {
		s.customerGone = 10 * time.Minute
	}
	s.reclaimEvery = min(s.heartbeat, s.agentGone/4, s.customerGone/4)
	s.seenEvery = s.customerGone / 5
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s.m = m
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.hub = newHub(s.broker, s.log)
	if err := s.broker.Start(s.hub); err != nil {
		s.stop()
		return nil, fmt.Errorf("chat: start broker: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.hub.subscribe(ctx, nodeTopic, nodeSubscriber{s}); err != nil {
		s.stop()
		_ = s.broker.Close()
		return nil, fmt.Errorf("chat: subscribe to node events: %w", err)
	}
	s.bg.Add(2)
	go s.routerLoop()    // exits when s.ctx is cancelled (Close)
	go s.heartbeatLoop() // exits when s.ctx is cancelled (Close)
	return s, nil
}

// nodeSubscriber receives the node topic for the service.
type nodeSubscriber struct{ s *Service }

func (n nodeSubscriber) deliver(ev *event) {
	if ev.Kind == evNode && n.s.onNode != nil {
		n.s.onNode(ev.Data)
	}
}

func (n nodeSubscriber) resync() {}

// PublishNode sends data to every node's Options.NodeEvents (this node's
// included), for example to invalidate search-index caches.
func (s *Service) PublishNode(ctx context.Context, data []byte) error {
	return s.broker.Publish(ctx, nodeTopic, mustJSON(event{Kind: evNode, Data: data}))
}

// Close ends every connection with close code 1001 ("going away"), waits
// for them (until ctx ends, after which the rest are dropped), stops the
// background goroutines, removes this node's agents from presence and
// closes the broker. Clients reconnect to another node and resume with
// after_seq. Call it before shutting down the HTTP server: hijacked
// websocket connections are not tracked by Fiber.
func (s *Service) Close(ctx context.Context) error {
	if s.closing.Swap(true) {
		return nil
	}
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	if len(s.conns) > 0 {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(fws.CloseGoingAway, "server shutting down")
	}
	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = fmt.Errorf("chat: connections still open at shutdown: %w", ctx.Err())
			for _, c := range conns {
				c.kill("shutdown deadline")
			}
			<-idle
		}
	}
	s.stop()
	s.bg.Wait()
	return errors.Join(err, s.broker.Close())
}

func (s *Service) nextConnID() string {
	return s.nodeID + "-" + itoa(int64(s.connSeq.Add(1)))
}

// register adds a connection; it fails while shutting down.
func (s *Service) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.m.conns.WithLabelValues(c.kind.String()).Inc()
	return true
}

func (s *Service) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	s.m.conns.WithLabelValues(c.kind.String()).Dec()
	if len(s.conns) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// Connections reports how many sockets this node serves.
func (s *Service) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// AgentsOnline counts online agents across every node; it is what
// /api/status reports (internal/server.Presence).
func (s *Service) AgentsOnline(ctx context.Context) (int, error) { return s.presence.AgentsOnline(ctx) }

// Availability is whether chat is offered right now, and if not why.
type Availability struct {
	Available bool
	Reason    string    // "outside_hours" or "no_agents" when not available
	NextOpen  time.Time // when support hours next begin, when outside them
}

// Availability reports whether chat is offered: inside support hours with
// at least one agent online. An unreachable presence store counts as no
// agents.
func (s *Service) Availability(ctx context.Context) Availability {
	now := s.now()
	if s.sched != nil && !s.sched.Open(now) {
		return Availability{Reason: "outside_hours", NextOpen: s.sched.NextChange(now)}
	}
	n, err := s.presence.AgentsOnline(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "chat: presence unavailable", "err", err)
	}
	if n == 0 {
		return Availability{Reason: "no_agents"}
	}
	return Availability{Available: true}
}

func (a Availability) frame() closedFrame {
	f := closedFrame{Type: "closed", Reason: a.Reason}
	if !a.NextOpen.IsZero() {
		f.NextOpen = a.NextOpen.Format(time.RFC3339)
	}
	return f
}

// --- publishing ---

// publish sends an event; a failure is logged, not returned: the data is
// in the store, and the next successful publish asks every node to re-read
// (see resyncDue), so receivers catch up.
//
// When the broker fails (Redis is down), the event still reaches this
// node's own connections, straight through the hub: the broker is only the
// fan-out between nodes, so a customer and an agent on the same node go on
// chatting without it. (Should the broker have delivered it after all, a
// message is dropped by the connections' seq cursors; other frames may
// arrive twice.)
func (s *Service) publish(ctx context.Context, topic string, ev event) {
	// What is published was committed: it must go out even when the
	// connection that caused it is closing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if s.resyncDue.Load() {
		if err := s.broker.Publish(ctx, nodeTopic, mustJSON(event{Kind: evResync})); err == nil {
			s.resyncDue.Store(false)
		}
	}
	data := mustJSON(ev)
	if err := s.broker.Publish(ctx, topic, data); err != nil {
		s.resyncDue.Store(true)
		s.log.WarnContext(ctx, "chat: publish failed; nodes will re-read", "topic", topic, "err", err)
		s.hub.HandleEvent(topic, data)
	}
}

func (s *Service) publishMessage(ctx context.Context, m Message) {
	s.publish(ctx, convTopic(m.ConversationID), event{Kind: evMessage, Conv: m.ConversationID, Seq: m.Seq, Frame: encodeMessage(m)})
}

func (s *Service) publishFrame(ctx context.Context, topic, to, skip string, frame any) {
	s.publish(ctx, topic, event{Kind: evFrame, To: to, Skip: skip, Frame: mustJSON(frame)})
}

// --- presence heartbeats ---

func (s *Service) heartbeatLoop() {
	defer s.bg.Done()
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	seen := time.NewTicker(s.seenEvery)
	defer seen.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.announceAll()
		case <-seen.C:
			s.customersSeen()
		}
	}
}

// customersSeen records that the customers with a socket on this node are
// still there, so that their waiting chats are not closed as abandoned.
func (s *Service) customersSeen() {
	s.mu.Lock()
	var convs []int64
	for c := range s.conns {
		if c.kind == kindCustomer {
			if id := c.convID.Load(); id != 0 {
				convs = append(convs, id)
			}
		}
	}
	s.mu.Unlock()
	if len(convs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.seenEvery)
	defer cancel()
	if err := s.store.SeenCustomers(ctx, convs, s.now()); err != nil && ctx.Err() == nil {
		s.log.Warn("chat: recording customers seen failed", "err", err)
	}
}

// announceAll re-announces every agent connection of this node. After a
// Redis restart this is what rebuilds presence.
func (s *Service) announceAll() {
	s.mu.Lock()
	var entries []AgentConn
	for c := range s.conns {
		if c.kind == kindAgent {
			entries = append(entries, AgentConn{ConnID: c.id, AgentID: c.agent.ID, Status: c.agentStatus()})
		}
	}
	s.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.heartbeat)
	defer cancel()
	if err := s.presence.Announce(ctx, entries...); err != nil {
		s.log.Warn("chat: presence heartbeat failed", "err", err)
	}
}

// --- visitor tokens ---

// newVisitorToken returns a random 256-bit token and its SHA-256.
func newVisitorToken() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Visitor returns the visitor id of a token, or ErrBadVisitor.
func (s *Service) Visitor(ctx context.Context, token string) (int64, error) {
	if token == "" || len(token) > 100 {
		return 0, ErrBadVisitor
	}
	return s.store.VisitorByToken(ctx, hashToken(token))
}
