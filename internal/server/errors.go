package server

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
)

// handleError is the one error boundary. Every error a handler returns ends
// here and becomes {"error": message} with a fitting status. Internal
// causes are logged with the request id; the client only ever sees the
// public message of an *apperr.Error, or a generic text.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, msg := http.StatusInternalServerError, "internal error"
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe):
		status, msg = fe.Code, fiberMessage(fe)
	default:
		k := apperr.KindOf(err)
		status, msg = k.Status(), apperr.PublicMessage(err)
		if k == apperr.KindInternal {
			s.log.ErrorContext(c.UserContext(), "request failed",
				"method", c.Method(), "path", c.Path(), "err", err)
		}
	}
	if status >= 500 && fe != nil {
		s.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(fiber.Map{"error": msg})
}

// fiberMessage returns a public message for Fiber's own errors (unknown
// route, wrong method, body too large, timeouts), which never carry
// internal detail but are phrased for developers.
func fiberMessage(fe *fiber.Error) string {
	switch fe.Code {
	case fiber.StatusNotFound:
		return "not found"
	case fiber.StatusMethodNotAllowed:
		return "method not allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "request body too large"
	case fiber.StatusRequestTimeout:
		return "request timed out"
	}
	if fe.Code >= 500 {
		return "internal error"
	}
	return fe.Message
}
