package loadgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3" // the helpdesk's database driver
)

// OpenReadOnly opens the helpdesk database at path (<data>/helpdesk.db)
// read-only, for Verify. It may be open in a running server meanwhile.
func OpenReadOnly(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_busy_timeout=10000"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Verification is what Verify found. Every recorded chat message and email
// should be stored exactly once: Lost, Duplicated and Mismatched are
// empty and the Stored counts equal the Recorded ones.
type Verification struct {
	ChatRecorded, ChatStored int // recorded acks; of those, stored exactly once with the acked seq
	MailRecorded, MailStored int // recorded 250s; of those, in inbound_raw and ticket_messages exactly once
	Conversations            int // conversations the record touches
	// Problems, each a short description naming the message; at most
	// maxProblems of each kind are kept (the counts are exact).
	Lost, Duplicated, Mismatched  []string
	LostN, DuplicatedN, MismatchN int
}

const maxProblems = 10

func (v *Verification) problem(list *[]string, n *int, format string, args ...any) {
	*n++
	if len(*list) < maxProblems {
		*list = append(*list, fmt.Sprintf(format, args...))
	}
}

// OK reports whether nothing was lost, doubled or changed.
func (v Verification) OK() bool {
	return v.LostN == 0 && v.DuplicatedN == 0 && v.MismatchN == 0 &&
		v.ChatStored == v.ChatRecorded && v.MailStored == v.MailRecorded
}

func (v Verification) String() string {
	s := fmt.Sprintf("chat: %d of %d acked messages stored exactly once (%d conversations); mail: %d of %d accepted emails stored exactly once",
		v.ChatStored, v.ChatRecorded, v.Conversations, v.MailStored, v.MailRecorded)
	if v.LostN > 0 {
		s += fmt.Sprintf("; LOST %d: %s", v.LostN, strings.Join(v.Lost, ", "))
	}
	if v.DuplicatedN > 0 {
		s += fmt.Sprintf("; DUPLICATED %d: %s", v.DuplicatedN, strings.Join(v.Duplicated, ", "))
	}
	if v.MismatchN > 0 {
		s += fmt.Sprintf("; MISMATCHED %d: %s", v.MismatchN, strings.Join(v.Mismatched, ", "))
	}
	return s
}

// Verify checks a record against the helpdesk database db. dataDir, when
// not empty, is the data folder: each accepted email's raw file
// (<data>/mail/raw/<sha256>.eml) must exist there too.
//
// For chat it checks that every acked (conversation, client_id, sender
// kind) is in chat_messages exactly once, with the acked seq, and that every
// conversation the record touches is numbered 1..last_seq without gaps or
// repeats. For mail, that every Message-ID answered 250 is in inbound_raw
// exactly once as a ticket and in ticket_messages exactly once as an
// inbound message. Messages stored without an ack reaching the client
// (the server died between commit and ack) are allowed: the sender would
// resend them and the server would recognise the resend. The error is for
// a failed query; what was found is in the Verification.
func Verify(ctx context.Context, db *sql.DB, dataDir string, entries []Entry) (Verification, error) {
	var v Verification
	if err := verifyChat(ctx, db, entries, &v); err != nil {
		return v, err
	}
	if err := verifyMail(ctx, db, dataDir, entries, &v); err != nil {
		return v, err
	}
	return v, nil
}

type chatKey struct {
	conv     int64
	from     string // customer or agent
	clientID string
}

func verifyChat(ctx context.Context, db *sql.DB, entries []Entry, v *Verification) error {
	want := map[chatKey]int64{}
	convs := map[int64]bool{}
	for _, e := range entries {
		if e.Kind != KindChat {
			continue
		}
		v.ChatRecorded++
		k := chatKey{e.Conversation, e.From, e.ClientID}
		if _, dup := want[k]; dup {
			v.problem(&v.Duplicated, &v.DuplicatedN, "chat %d/%s acked twice", e.Conversation, e.ClientID)
			continue
		}
		want[k] = e.Seq
		convs[e.Conversation] = true
	}
	v.Conversations = len(convs)
	if len(want) == 0 {
		return nil
	}
	got := map[chatKey][]int64{}
	ids := make([]any, 0, len(convs))
	for c := range convs {
		ids = append(ids, c)
	}
	err := inBatches(ids, func(batch []any) error {
		rows, err := db.QueryContext(ctx, `SELECT conversation_id, seq, sender, client_id FROM chat_messages
			WHERE client_id IS NOT NULL AND conversation_id IN (`+placeholders(len(batch))+`)`, batch...)
		if err != nil {
			return fmt.Errorf("verify: read chat messages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var conv, seq int64
			var sender, clientID string
			if err := rows.Scan(&conv, &seq, &sender, &clientID); err != nil {
				return fmt.Errorf("verify: read chat messages: %w", err)
			}
			kind, _, _ := strings.Cut(sender, ":") // "customer" or "agent:<id>"
			k := chatKey{conv, kind, clientID}
			got[k] = append(got[k], seq)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for k, seq := range want {
		switch s := got[k]; {
		case len(s) == 0:
			v.problem(&v.Lost, &v.LostN, "chat %d/%s (seq %d)", k.conv, k.clientID, seq)
		case len(s) > 1:
			v.problem(&v.Duplicated, &v.DuplicatedN, "chat %d/%s stored %d times", k.conv, k.clientID, len(s))
		case s[0] != seq:
			v.problem(&v.Mismatched, &v.MismatchN, "chat %d/%s acked as seq %d, stored as %d", k.conv, k.clientID, seq, s[0])
		default:
			v.ChatStored++
		}
	}
	// Numbering: seq 1..last_seq, each once.
	return inBatches(ids, func(batch []any) error {
		rows, err := db.QueryContext(ctx, `SELECT c.id, c.last_seq, COUNT(m.id), COUNT(DISTINCT m.seq), COALESCE(MIN(m.seq), 0), COALESCE(MAX(m.seq), 0)
			FROM chat_conversations c LEFT JOIN chat_messages m ON m.conversation_id = c.id
			WHERE c.id IN (`+placeholders(len(batch))+`) GROUP BY c.id`, batch...)
		if err != nil {
			return fmt.Errorf("verify: read conversations: %w", err)
		}
		defer rows.Close()
		seen := 0
		for rows.Next() {
			var id, last, n, distinct, lo, hi int64
			if err := rows.Scan(&id, &last, &n, &distinct, &lo, &hi); err != nil {
				return fmt.Errorf("verify: read conversations: %w", err)
			}
			seen++
			if n != last || distinct != n || (n > 0 && (lo != 1 || hi != last)) {
				v.problem(&v.Mismatched, &v.MismatchN, "conversation %d: last_seq %d but %d messages (%d distinct seqs, %d..%d)", id, last, n, distinct, lo, hi)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if seen != len(batch) {
			v.problem(&v.Lost, &v.LostN, "%d recorded conversations are missing", len(batch)-seen)
		}
		return nil
	})
}

func verifyMail(ctx context.Context, db *sql.DB, dataDir string, entries []Entry, v *Verification) error {
	want := map[string]bool{}
	var ids []any
	for _, e := range entries {
		if e.Kind != KindMail {
			continue
		}
		v.MailRecorded++
		if want[e.MessageID] {
			v.problem(&v.Duplicated, &v.DuplicatedN, "mail %s accepted twice", e.MessageID)
			continue
		}
		want[e.MessageID] = true
		ids = append(ids, e.MessageID)
	}
	raws := map[string][]string{} // Message-ID → outcome of each inbound_raw row
	msgs := map[string][]string{} // Message-ID → kind of each ticket_messages row
	shas := map[string]string{}   // Message-ID → raw_sha256 of its ticket message
	err := inBatches(ids, func(batch []any) error {
		rows, err := db.QueryContext(ctx, `SELECT message_id, outcome FROM inbound_raw WHERE message_id IN (`+placeholders(len(batch))+`)`, batch...)
		if err != nil {
			return fmt.Errorf("verify: read inbound_raw: %w", err)
		}
		for rows.Next() {
			var id, outcome string
			if err := rows.Scan(&id, &outcome); err != nil {
				rows.Close()
				return fmt.Errorf("verify: read inbound_raw: %w", err)
			}
			raws[id] = append(raws[id], outcome)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = db.QueryContext(ctx, `SELECT message_id, kind, COALESCE(raw_sha256, '') FROM ticket_messages WHERE message_id IN (`+placeholders(len(batch))+`)`, batch...)
		if err != nil {
			return fmt.Errorf("verify: read ticket_messages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, kind, sha string
			if err := rows.Scan(&id, &kind, &sha); err != nil {
				return fmt.Errorf("verify: read ticket_messages: %w", err)
			}
			msgs[id] = append(msgs[id], kind)
			shas[id] = sha
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, x := range ids {
		id := x.(string)
		r, m := raws[id], msgs[id]
		switch {
		case len(r) == 0 || len(m) == 0:
			v.problem(&v.Lost, &v.LostN, "mail %s (%d inbound_raw rows, %d ticket messages)", id, len(r), len(m))
		case len(r) > 1 || len(m) > 1:
			v.problem(&v.Duplicated, &v.DuplicatedN, "mail %s (%d inbound_raw rows, %d ticket messages)", id, len(r), len(m))
		case r[0] != "ticket" || m[0] != "inbound":
			v.problem(&v.Mismatched, &v.MismatchN, "mail %s stored as %s / %s", id, r[0], m[0])
		default:
			if dataDir != "" {
				if _, err := os.Stat(filepath.Join(dataDir, "mail", "raw", shas[id]+".eml")); err != nil {
					v.problem(&v.Lost, &v.LostN, "mail %s: raw file: %v", id, errors.Unwrap(err))
					continue
				}
			}
			v.MailStored++
		}
	}
	return nil
}

// inBatches calls fn with ids in slices small enough for SQLite's limit on
// parameters.
func inBatches(ids []any, fn func(batch []any) error) error {
	const size = 500
	for start := 0; start < len(ids); start += size {
		if err := fn(ids[start:min(start+size, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
