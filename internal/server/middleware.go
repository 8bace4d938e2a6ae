package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/internal/logging"
)

const headerRequestID = "X-Request-ID"

// requestID gives every request an id: the caller's X-Request-ID when it is
// short and plain (so a proxy's id can be followed through), otherwise a new
// random one. The id goes into the user context, so every log line written
// with that context carries it, and back out in the response header.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(headerRequestID)
	if !plainID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	} else {
		id = string([]byte(id)) // fiber reuses the header buffer
	}
	c.Set(headerRequestID, id)
	c.SetUserContext(logging.WithRequestID(c.UserContext(), id))
	return c.Next()
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// recoverPanic turns a panic in a handler into a logged 500, keeping the
// stack in the log and out of the response.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(c.UserContext(), "panic in handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fiber.ErrInternalServerError
		}
	}()
	return c.Next()
}

// observe logs and measures each request after it is handled. The route
// label is the matched pattern (/api/tickets/:id), never the raw path, so
// metric cardinality stays bounded.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Render the error now so the status we record is the one sent.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	elapsed := time.Since(start)
	status := c.Response().StatusCode()
	route := c.Route().Path
	if status == fiber.StatusNotFound && route == "/" && c.Path() != "/" {
		route = "unmatched"
	}
	// Label values are kept by the metric, and Fiber's strings point into
	// buffers it reuses: copy the method before handing it over.
	method := utils.CopyString(c.Method())
	s.m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	s.m.latency.WithLabelValues(method, route).Observe(elapsed.Seconds())
	lvl := slog.LevelInfo
	if status >= 500 {
		lvl = slog.LevelError
	}
	// Only the path is logged, never the query string: queries can hold
	// search text customers typed, and tokens in misbehaving clients.
	s.log.Log(c.UserContext(), lvl, "http request",
		"method", c.Method(), "path", c.Path(), "route", route, "status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000, "ip", c.IP(), "bytes", len(c.Response().Body()))
	return nil
}

// securityHeaders sets headers that are right for every response. Pages
// that need a Content-Security-Policy set their own.
func securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	return c.Next()
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpdesk_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}
