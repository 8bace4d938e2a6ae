// Package httpapi holds the few request and response conventions every JSON
// handler shares: strict body decoding with a clear 400, and the list
// envelope. Domain handlers in kb, faq, tickets and chat use it so that bad
// input gets the same kind of answer everywhere.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
)

// MaxJSONBody bounds a JSON request body. Larger bodies (raw email) use
// their own routes and limits.
const MaxJSONBody = 1 << 20

// DecodeJSON decodes the request body into v. It rejects a body that is not
// JSON, has unknown fields, carries trailing data or exceeds MaxJSONBody,
// each with a KindInvalid (or KindTooLarge) error naming the problem.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(body) > MaxJSONBody {
		return apperr.New(apperr.KindTooLarge, fmt.Sprintf("request body is larger than %d KiB", MaxJSONBody>>10))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Invalid("request body is empty; expected a JSON object")
	}
	ct := string(c.Request().Header.ContentType())
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return apperr.New(apperr.KindInvalid, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Invalid("invalid JSON body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Invalid("invalid JSON body: trailing data after the object")
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
		}
		return "expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON"
	}
}

// IntQuery parses an optional integer query parameter, clamping it to
// [1, max] and using def when it is absent. A non-numeric value is an error.
func IntQuery(c *fiber.Ctx, name string, def, max int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, apperr.Invalid("%s must be a positive whole number", name)
	}
	return min(n, max), nil
}
