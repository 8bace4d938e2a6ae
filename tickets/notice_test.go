package tickets

import (
	"errors"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/mail"
)

func TestSendNotice(t *testing.T) {
	e := newEnv(t)
	to := mail.Address{Name: "Carla", Address: "Carla@Customer.example"}
	if err := e.svc.SendNotice(e.ctx, to, "Your chat transcript", "Agent: hello\nYou: hi"); err != nil {
		t.Fatal(err)
	}
	if n := e.sendDue(); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	m := parsed(e.sender.messages()[0].raw)
	if m.Subject != "Your chat transcript" || m.To[0].Address != "carla@customer.example" || !m.AutoSubmitted || !strings.Contains(m.Text, "You: hi") {
		t.Errorf("sent %+v", m)
	}
	// The caps on automatic mail hold.
	var err error
	for i := 0; i < AutoMailPer10Min+1 && err == nil; i++ {
		err = e.svc.SendNotice(e.ctx, to, "again", "x")
	}
	if !errors.Is(err, ErrNoticeLimit) {
		t.Errorf("flood: %v, want ErrNoticeLimit", err)
	}
	if err := e.svc.SendNotice(e.ctx, mail.Address{Address: "support@example.com"}, "x", "x"); err == nil {
		t.Error("a notice to our own inbox was queued")
	}
}
