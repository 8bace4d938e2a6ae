package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

type statusJSON struct {
	Open          bool   `json:"open"`
	ChatAvailable bool   `json:"chat_available"`
	AgentsOnline  int    `json:"agents_online"`
	Now           string `json:"now"`
	NextChange    string `json:"next_change"`
	Timezone      string `json:"timezone"`
	Hours         string `json:"hours"`
}

// status answers GET /api/status: whether the shop is inside its support
// hours, whether chat is offered (open and at least one agent online), and
// when the open/closed state next flips. next_change is empty when the
// schedule never changes (always open).
func (s *Server) status(c *fiber.Ctx) error {
	now := s.deps.Now()
	sched := s.deps.Schedule
	online := 0
	if s.deps.Presence != nil {
		n, err := s.deps.Presence.AgentsOnline(c.UserContext())
		if err != nil {
			// Presence being unreachable means we cannot promise chat;
			// the shop's hours are still worth showing.
			s.log.WarnContext(c.UserContext(), "presence unavailable", "err", err)
		}
		online = n
	}
	open := sched.Open(now)
	out := statusJSON{
		Open:          open,
		ChatAvailable: open && online > 0,
		AgentsOnline:  online,
		Now:           now.In(sched.Location()).Format(time.RFC3339),
		Timezone:      sched.Location().String(),
		Hours:         sched.Weekly().String(), // live: admins may change the hours while we run
	}
	// Always a time, as the contract says: when the schedule does not
	// change within the look-ahead (always open, say), the end of it; pages
	// treat a change more than a year away as none.
	next := sched.NextChange(now)
	if next.IsZero() {
		next = sched.LookAheadEnd(now)
	}
	out.NextChange = next.In(sched.Location()).Format(time.RFC3339)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz checks every dependency with a short deadline and answers 503 with
// the first failure's name when one is not usable. The cause is logged, not
// sent: it may name files or hosts.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	for _, rc := range s.deps.Ready {
		if err := rc.Check(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "check", rc.Name, "err", err)
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": rc.Name + " is not usable"})
		}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) metricsHandler() fiber.Handler {
	h := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{}))
	return func(c *fiber.Ctx) error {
		h(c.Context())
		return nil
	}
}
