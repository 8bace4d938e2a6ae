package tickets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/printshop/helpdesk/internal/mail"
)

func TestNewValidatesOptions(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no inboxes", func(o *Options) { o.Inboxes = nil }, "at least one inbox"},
		{"no sender", func(o *Options) { o.Sender = nil }, "sender"},
		{"no data folder", func(o *Options) { o.DataDir = "" }, "data folder"},
		{"plus inbox", func(o *Options) { o.Inboxes = []Inbox{{Address: "a+b@example.com", Queue: "Q"}} }, "plain address"},
		{"duplicate inbox", func(o *Options) {
			o.Inboxes = []Inbox{{Address: "a@example.com", Queue: "Q"}, {Address: "A@example.com", Queue: "R"}}
		}, "twice"},
		{"no queue", func(o *Options) { o.Inboxes = []Inbox{{Address: "a@example.com"}} }, "no queue"},
		{"relative public URL", func(o *Options) { o.PublicURL = "help.example.com" }, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Inboxes: defaultInboxes(), DataDir: t.TempDir(), Sender: e.sender}
			tt.edit(&opts)
			_, err := New(e.db, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "tickets: ") {
				t.Errorf("New: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestDeliverAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *Options) { o.Registerer = reg })
	var d mail.Deliverer = e.svc
	if !d.Accepts("support+t9@example.com") {
		t.Fatal("plus address refused")
	}
	raw := testMail{From: "ann@customer.example", Subject: "SMTP", MessageID: "smtp1@x"}.bytes()
	for range 2 {
		if err := d.Deliver(e.ctx, "ann@customer.example", []string{"support@example.com"}, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM tickets`); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if got := counterValue(t, e.svc.m.ingested.WithLabelValues("created")); got != 1 {
		t.Errorf("created = %v", got)
	}
	if got := counterValue(t, e.svc.m.ingested.WithLabelValues("duplicate")); got != 1 {
		t.Errorf("duplicate = %v", got)
	}
	e.sendDue()
	if got := counterValue(t, e.svc.m.outbound.WithLabelValues("sent")); got != 1 {
		t.Errorf("sent = %v", got)
	}
	// The same registry twice is a configuration error, reported, not a
	// panic.
	if _, err := New(e.db, Options{Inboxes: defaultInboxes(), DataDir: t.TempDir(), Sender: e.sender, Registerer: reg}); err == nil {
		t.Error("second registration succeeded")
	}
	if err := e.svc.PingIndex(); err != nil {
		t.Errorf("PingIndex: %v", err)
	}
	if got := e.svc.Inboxes(); len(got) != 4 || got[1].Queue != "Corporate Sales" {
		t.Errorf("Inboxes = %+v", got)
	}
}

func TestIndexRebuiltWhenUnusable(t *testing.T) {
	e := newEnv(t)
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Laser fuser noise", MessageID: "ix1@x"})
	dir := filepath.Join(e.dir, "index", "tickets")
	find := func() []int64 {
		t.Helper()
		p, err := e.svc.List(e.ctx, e.agent2(), Filter{Query: "fuser"})
		if err != nil {
			t.Fatal(err)
		}
		return ids(p.Tickets)
	}
	tests := []struct {
		name   string
		damage func()
	}{
		{"older mapping version", func() {
			idx, err := bleve.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := idx.SetInternal([]byte(indexVersionKey), []byte("0")); err != nil {
				t.Fatal(err)
			}
			idx.Close()
		}},
		{"damaged files", func() {
			entries, _ := os.ReadDir(dir)
			for _, en := range entries {
				os.RemoveAll(filepath.Join(dir, en.Name()))
			}
			os.WriteFile(filepath.Join(dir, "index_meta.json"), []byte("{not json"), 0o644)
		}},
		{"a file where the folder was", func() {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("junk"), 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.svc.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage()
			e.svc = e.open()
			if got := find(); !slices.Equal(got, []int64{res.TicketID}) {
				t.Errorf("after rebuild: %v", got)
			}
		})
	}
	// No build folders are left behind.
	left, _ := filepath.Glob(filepath.Join(e.dir, "index", ".tickets.build-*"))
	if len(left) != 0 {
		t.Errorf("leftover build folders: %v", left)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
