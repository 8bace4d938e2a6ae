package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// checkingBroker records, per topic, whether the node is subscribed, and
// fails when Subscribe and Unsubscribe of one topic overlap or repeat.
type checkingBroker struct {
	t      *testing.T
	mu     sync.Mutex
	on     map[string]bool
	busy   map[string]bool
	events int
}

func (b *checkingBroker) Start(BrokerHandler) error { return nil }
func (b *checkingBroker) Close() error              { return nil }
func (b *checkingBroker) Publish(context.Context, string, []byte) error {
	return nil
}

func (b *checkingBroker) op(topic string, sub bool) error {
	b.mu.Lock()
	if b.busy[topic] {
		b.t.Errorf("overlapping broker calls for %s", topic)
	}
	if b.on[topic] == sub {
		b.t.Errorf("%s: subscribe=%v twice in a row", topic, sub)
	}
	b.busy[topic] = true
	b.mu.Unlock()
	for range 100 { // widen the window for overlaps
		b.mu.Lock()
		b.events++
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.on[topic] = sub
	b.busy[topic] = false
	b.mu.Unlock()
	return nil
}

func (b *checkingBroker) Subscribe(_ context.Context, topic string) error { return b.op(topic, true) }
func (b *checkingBroker) Unsubscribe(_ context.Context, topic string) error {
	return b.op(topic, false)
}

type nopSubscriber struct{ id int }

func (nopSubscriber) deliver(*event) {}
func (nopSubscriber) resync()        {}

// Many local subscribers coming and going on a few topics: the node is
// subscribed exactly while someone follows a topic, and broker calls for
// one topic never overlap.
func TestHubSubscriptions(t *testing.T) {
	b := &checkingBroker{t: t, on: map[string]bool{}, busy: map[string]bool{}}
	h := newHub(b, discardLogger())
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &nopSubscriber{id: g}
			for i := range 300 {
				topic := fmt.Sprint("c:", i%3)
				if err := h.subscribe(ctx, topic, s); err != nil {
					t.Error(err)
					return
				}
				h.unsubscribe(ctx, topic, s)
			}
		}()
	}
	wg.Wait()
	keep := &nopSubscriber{}
	if err := h.subscribe(ctx, "c:1", keep); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.on["c:0"] || !b.on["c:1"] || b.on["c:2"] {
		t.Errorf("broker subscriptions at the end: %v", b.on)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.topics) != 1 {
		t.Errorf("hub keeps %d topics, want 1", len(h.topics))
	}
}

// FuzzValidation checks the cleaners of customer input keep their
// promises whatever comes in.
func FuzzValidation(f *testing.F) {
	for _, s := range []string{"", "Pat", "a\nb", "\x00", "../../etc/passwd", "é" + strings.Repeat("x", 200), "\xff\xfe", `a"b;c\d`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if v, err := cleanLine("name", in, MaxNameLen, false); err == nil {
			if !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\x00") || utf8.RuneCountInString(v) > MaxNameLen {
				t.Fatalf("cleanLine(%q) = %q", in, v)
			}
		}
		if v, err := cleanText("text", in, MaxTextLen, true); err == nil {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				t.Fatalf("cleanText(%q) = %q", in, v)
			}
		}
		name := safeFilename(in)
		if name == "" || strings.ContainsAny(name, "/\"\x00\r\n") || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 {
			t.Fatalf("safeFilename(%q) = %q", in, name)
		}
		if cd := contentDisposition(name); strings.ContainsAny(cd, "\r\n") {
			t.Fatalf("contentDisposition(%q) = %q", name, cd)
		}
		_ = sniffType([]byte(in))
	})
}
