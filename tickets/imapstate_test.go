package tickets

import "testing"

func TestIMAPPosition(t *testing.T) {
	e := newEnv(t)
	v, uid, err := e.svc.LoadUID(e.ctx, "imap:desk@mail.example:993/INBOX")
	if err != nil || v != 0 || uid != 0 {
		t.Fatalf("fresh position = %d:%d, %v", v, uid, err)
	}
	if err := e.svc.SaveUID(e.ctx, "imap:desk@mail.example:993/INBOX", 77, 12); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SaveUID(e.ctx, "imap:desk@mail.example:993/INBOX", 77, 13); err != nil {
		t.Fatal(err)
	}
	// A restarted service reads the same position back.
	e.svc.Close()
	v, uid, err = e.open().LoadUID(e.ctx, "imap:desk@mail.example:993/INBOX")
	if err != nil || v != 77 || uid != 13 {
		t.Errorf("position = %d:%d, %v; want 77:13", v, uid, err)
	}
}
