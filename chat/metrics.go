package chat

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	conns         *prometheus.GaugeVec
	messages      *prometheus.CounterVec
	offers        *prometheus.CounterVec
	closed        prometheus.Counter
	deflected     prometheus.Counter
	suggestions   prometheus.Counter
	offline       prometheus.Counter
	slowConsumers prometheus.Counter
	rateLimited   prometheus.Counter
	queueLength   prometheus.Gauge
	reclaimed     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "helpdesk_chat_connections", Help: "Open chat websockets on this node, by kind (customer, agent).",
		}, []string{"kind"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_chat_messages_total", Help: "Chat messages stored (acknowledged), by author (customer, agent).",
		}, []string{"from"}),
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_chat_offers_total", Help: "Chat offers to agents by outcome (offered, accepted, declined, timeout, offline).",
		}, []string{"outcome"}),
		closed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_conversations_closed_total", Help: "Chat conversations ended.",
		}),
		deflected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_deflected_total",
			Help: "Chats that ended after the customer opened a suggested FAQ article, without an agent ever joining.",
		}),
		suggestions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_suggestions_total", Help: "FAQ suggestion frames sent to waiting customers.",
		}),
		offline: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_offline_messages_total", Help: "Messages left while chat was unavailable (tickets created).",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_slow_consumers_total", Help: "Connections dropped because their send queue was full.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "helpdesk_chat_rate_limited_frames_total", Help: "Client frames refused by the per-connection rate limit.",
		}),
		queueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "helpdesk_chat_queue_length", Help: "Conversations waiting for an agent, as last seen by this node.",
		}),
		reclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_chat_reclaimed_total",
			Help: "Chats freed because their people were gone: agent_gone (back to the queue), customer_gone (waiting chat closed).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("chat: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.conns, m.messages, m.offers, m.closed, m.deflected,
		m.suggestions, m.offline, m.slowConsumers, m.rateLimited, m.queueLength, m.reclaimed}
}
