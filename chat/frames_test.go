package chat

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestFrameShapes pins the JSON of every server frame: the contract
// external clients (widget, agent console, acceptance scripts) rely on.
// Run with -update after a deliberate change, and update
// docs/chat-protocol.md with it.
func TestFrameShapes(t *testing.T) {
	at := time.Date(2026, 3, 9, 10, 0, 0, 123e6, time.UTC)
	msg := Message{ConversationID: 7, Seq: 3, From: FromAgent, AgentID: 2, Author: "Ann", ClientID: "a1", Text: "Let me check.", At: at,
		Attachments: []AttachmentRef{{ID: 5, Name: "label.pdf", ContentType: "application/pdf", Size: 1234}}}
	frames := []any{
		welcomeFrame{Type: "welcome", Visitor: "TOKEN", Conversation: 7, ChatAvailable: true, Status: StatusWaiting, LastSeq: 2},
		Availability{Reason: "outside_hours", NextOpen: at.Add(20 * time.Hour)}.frame(),
		ackFrame{Type: "ack", ClientID: "c1", Seq: 3},
		ackFrame{Type: "ack", ClientID: "c1", Seq: 3, Duplicate: true},
		messageJSON(msg),
		messageJSON(Message{ConversationID: 7, Seq: 4, From: FromSystem, Text: "Ann ended the chat.", At: at}),
		queueFrame{Type: "queue", Conversation: 7, Position: 2, EstimatedWaitSeconds: 120},
		assignedCustomerFrame{Type: "assigned", Conversation: 7, Agent: agentJSON{Name: "Ann"}},
		assignedAgentJSON(Conversation{ID: 7, CustomerName: "Pat", CustomerEmail: "pat@example.com", Status: StatusActive, LastSeq: 2}, true),
		unassignedFrame{Type: "unassigned", Conversation: 7, Reason: "transferred"},
		offerJSON(Offer{ConversationID: 7, AgentID: 2, CustomerName: "Pat", Preview: "Where is my order?", WaitingSince: at, ExpiresAt: at.Add(30 * time.Second)}),
		offerWithdrawnFrame{Type: "offer_withdrawn", Conversation: 7, Reason: "timeout"},
		endedFrame{Type: "ended", Conversation: 7, By: FromCustomer},
		typingFrame{Type: "typing", Conversation: 7, From: FromAgent, Author: "Ann"},
		readFrame{Type: "read", Conversation: 7, By: FromCustomer, Seq: 3},
		suggestionsFrame{Type: "suggestions", Articles: []suggestionJSON{{Slug: "track-my-order", Title: "Track my order", URL: "/kb/track-my-order"}}},
		agentWelcomeFrame{Type: "welcome", Agent: agentJSON{ID: 2, Name: "Ann"}, Status: "online", ChatAvailable: true},
		statusFrame{Type: "status", Status: "away"},
		simpleFrame{Type: "message_left", Conversation: 7, TicketID: 1042},
		simpleFrame{Type: "rated", Conversation: 7, Score: 5},
		simpleFrame{Type: "transcript_sent", Conversation: 7, Email: "pat@example.com"},
		errorFrame{Type: "error", Code: codeUnknownType, Message: `unknown frame type "dance"`, Ref: "dance"},
		errorFrame{Type: "error", Code: codeUnavailable, Message: "chat is not available right now; leave a message instead", ClientID: "c1", Ref: "message"},
	}
	var got bytes.Buffer
	for _, f := range frames {
		got.Write(mustJSON(f))
		got.WriteByte('\n')
	}
	path := filepath.Join("testdata", "frames.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("frames changed; run with -update if intended.\ngot:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}
