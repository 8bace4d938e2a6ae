package loadgen

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Entry is one line of a record file: a chat message the server
// acknowledged, or an email it answered with 250.
//
//	{"kind":"chat","conversation":12,"seq":3,"client_id":"c7-12","from":"customer"}
//	{"kind":"mail","message_id":"load-r1a2b3-17@loadgen.example"}
//
// For chat, from is "customer" or "agent" (the sender kind whose client_id
// it is: the server keeps client_ids unique per conversation and sender).
// A Message-ID is without angle brackets, as the server stores it.
type Entry struct {
	Kind         string `json:"kind"` // KindChat or KindMail
	Conversation int64  `json:"conversation,omitempty"`
	Seq          int64  `json:"seq,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	From         string `json:"from,omitempty"`
	MessageID    string `json:"message_id,omitempty"`
}

// Kinds of Entry.
const (
	KindChat = "chat"
	KindMail = "mail"
)

// Recorder writes a record file: one JSON Entry per line, for every chat
// message acknowledged and every email accepted, in the order the answers
// arrived. It is safe for concurrent use; a nil *Recorder records nothing.
// Lines are buffered: call Flush before reading the file.
type Recorder struct {
	mu   sync.Mutex
	w    *bufio.Writer
	enc  *json.Encoder
	err  error
	chat int64
	mail int64
}

// NewRecorder returns a Recorder writing to w.
func NewRecorder(w io.Writer) *Recorder {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &Recorder{w: bw, enc: json.NewEncoder(bw)}
}

// Chat records an acknowledged chat message.
func (r *Recorder) Chat(conversation, seq int64, clientID, from string) {
	r.write(Entry{Kind: KindChat, Conversation: conversation, Seq: seq, ClientID: clientID, From: from})
}

// Mail records an accepted email by its Message-ID (without brackets).
func (r *Recorder) Mail(messageID string) {
	r.write(Entry{Kind: KindMail, MessageID: messageID})
}

func (r *Recorder) write(e Entry) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if r.err = r.enc.Encode(e); r.err != nil {
		return
	}
	if e.Kind == KindChat {
		r.chat++
	} else {
		r.mail++
	}
}

// Flush writes buffered lines out. It returns the first error any write
// met; lines after an error are dropped.
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = r.w.Flush()
	}
	return r.err
}

// Counts returns how many chat messages and emails were recorded.
func (r *Recorder) Counts() (chat, mail int64) {
	if r == nil {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chat, r.mail
}

// ReadRecord reads a record file. A torn last line (the writer died
// mid-line) is an error, as is any line that is not a valid Entry: a
// record that cannot be read cannot prove anything.
func ReadRecord(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("record line %d: %w", n, err)
		}
		switch {
		case e.Kind == KindChat && e.Conversation > 0 && e.Seq > 0 && e.ClientID != "" && (e.From == "customer" || e.From == "agent"):
		case e.Kind == KindMail && e.MessageID != "":
		default:
			return nil, fmt.Errorf("record line %d: not a chat or mail entry: %s", n, line)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// NewTag returns a short random tag of lowercase letters and digits to
// tell runs apart, e.g. in Message-IDs.
func NewTag() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(time.Now().Unix()%100000, 36) + fmt.Sprintf("%x", b)
}
