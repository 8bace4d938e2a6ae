package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindsAndMessages(t *testing.T) {
	sentinel := New(KindNotFound, "ticket not found")
	cause := errors.New("sql: no rows in /var/db")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
		isSentinel bool
	}{
		{name: "sentinel", err: sentinel, wantStatus: 404, wantMsg: "ticket not found", isSentinel: true},
		{name: "sentinel with cause", err: sentinel.With(cause), wantStatus: 404, wantMsg: "ticket not found", isSentinel: true},
		{name: "wrapped sentinel", err: fmt.Errorf("load: %w", sentinel), wantStatus: 404, wantMsg: "ticket not found", isSentinel: true},
		{name: "invalid", err: Invalid("limit must be %d or less", 50), wantStatus: 400, wantMsg: "limit must be 50 or less"},
		{name: "internal hides cause", err: Internal("tickets: load", cause), wantStatus: 500, wantMsg: "internal error"},
		{name: "plain error", err: cause, wantStatus: 500, wantMsg: "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err).Status(); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if got := PublicMessage(tt.err); got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
			if got := errors.Is(tt.err, sentinel); got != tt.isSentinel {
				t.Errorf("errors.Is(sentinel) = %v", got)
			}
		})
	}
	if !errors.Is(Internal("op", cause), cause) {
		t.Error("Internal does not unwrap to its cause")
	}
}
