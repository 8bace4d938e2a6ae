package loadgen

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// seedDB makes a helpdesk database with the real schema holding two
// conversations (1: customer seqs 1-2 and an agent answer as 3; 2: one
// customer message) and two inbound emails with their raw files, and
// returns the data folder and the record that matches it.
func seedDB(t *testing.T) (string, []Entry) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const now = "2026-01-01T00:00:00.000000000Z"
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO chat_visitors (id, token_hash, created_at) VALUES (1, x'01', '` + now + `'), (2, x'02', '` + now + `')`,
			`INSERT INTO chat_conversations (id, visitor_id, status, last_seq, created_at, updated_at) VALUES
				(1, 1, 'active', 3, '` + now + `', '` + now + `'), (2, 2, 'waiting', 1, '` + now + `', '` + now + `')`,
			`INSERT INTO chat_messages (conversation_id, seq, sender, author_kind, author, client_id, text, created_at) VALUES
				(1, 1, 'customer', 'customer', 'C', 'c1-0-t', 'hi', '` + now + `'),
				(1, 2, 'customer', 'customer', 'C', 'c1-1-t', 'more', '` + now + `'),
				(1, 3, 'agent:7', 'agent', 'A', 'a1-1-t', 'hello', '` + now + `'),
				(2, 1, 'customer', 'customer', 'D', 'c2-0-t', 'hi', '` + now + `')`,
			`INSERT INTO tickets (id, subject, queue, inbox, requester_email, created_at, updated_at) VALUES
				(1, 's', 'Customer Service', 'support@example.com', 'a@b', '` + now + `', '` + now + `'),
				(2, 's', 'Customer Service', 'support@example.com', 'a@b', '` + now + `', '` + now + `')`,
			`INSERT INTO ticket_messages (ticket_id, kind, message_id, raw_sha256, created_at) VALUES
				(1, 'inbound', 'm1@x', 'aaaa', '` + now + `'), (2, 'inbound', 'm2@x', 'bbbb', '` + now + `')`,
			`INSERT INTO inbound_raw (sha256, size, message_id, outcome, ticket_id, received_at) VALUES
				('aaaa', 10, 'm1@x', 'ticket', 1, '` + now + `'), ('bbbb', 10, 'm2@x', 'ticket', 2, '` + now + `')`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "mail", "raw")
	if err := os.MkdirAll(raw, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sum := range []string{"aaaa", "bbbb"} {
		if err := os.WriteFile(filepath.Join(raw, sum+".eml"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []Entry{
		{Kind: KindChat, Conversation: 1, Seq: 1, ClientID: "c1-0-t", From: "customer"},
		{Kind: KindChat, Conversation: 2, Seq: 1, ClientID: "c2-0-t", From: "customer"},
		{Kind: KindChat, Conversation: 1, Seq: 3, ClientID: "a1-1-t", From: "agent"},
		{Kind: KindMail, MessageID: "m1@x"},
		{Kind: KindMail, MessageID: "m2@x"},
		// c1-1-t (seq 2) was stored but its ack never arrived: allowed.
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(dir string, db *sql.DB, record []Entry) []Entry
		ok      bool
		wantMsg string
	}{
		{name: "all stored", ok: true},
		{name: "chat message lost", mutate: func(_ string, db *sql.DB, r []Entry) []Entry {
			mustExec(t, db, `DELETE FROM chat_messages WHERE client_id = 'c2-0-t'`)
			mustExec(t, db, `UPDATE chat_conversations SET last_seq = 0 WHERE id = 2`)
			return r
		}, wantMsg: "LOST 1: chat 2/c2-0-t"},
		{name: "acked seq differs", mutate: func(_ string, _ *sql.DB, r []Entry) []Entry {
			r[0].Seq = 2
			return r
		}, wantMsg: "acked as seq 2, stored as 1"},
		{name: "agent and customer client_ids are apart", mutate: func(_ string, _ *sql.DB, r []Entry) []Entry {
			r[2].From = "customer"
			return r
		}, wantMsg: "LOST 1: chat 1/a1-1-t"},
		{name: "acked twice", mutate: func(_ string, _ *sql.DB, r []Entry) []Entry {
			return append(r, r[0])
		}, wantMsg: "DUPLICATED 1: chat 1/c1-0-t acked twice"},
		{name: "gap in numbering", mutate: func(_ string, db *sql.DB, r []Entry) []Entry {
			mustExec(t, db, `UPDATE chat_conversations SET last_seq = 4 WHERE id = 1`)
			return r
		}, wantMsg: "conversation 1: last_seq 4 but 3 messages"},
		{name: "mail lost", mutate: func(_ string, db *sql.DB, r []Entry) []Entry {
			mustExec(t, db, `DELETE FROM inbound_raw WHERE message_id = 'm2@x'`)
			return r
		}, wantMsg: "LOST 1: mail m2@x (0 inbound_raw rows, 1 ticket messages)"},
		{name: "mail stored twice", mutate: func(_ string, db *sql.DB, r []Entry) []Entry {
			mustExec(t, db, `INSERT INTO inbound_raw (sha256, size, message_id, outcome, ticket_id, received_at) VALUES ('cccc', 10, 'm1@x', 'ticket', 1, 'x')`)
			return r
		}, wantMsg: "DUPLICATED 1: mail m1@x (2 inbound_raw rows"},
		{name: "mail taken for a loop", mutate: func(_ string, db *sql.DB, r []Entry) []Entry {
			mustExec(t, db, `UPDATE inbound_raw SET outcome = 'loop' WHERE message_id = 'm1@x'`)
			return r
		}, wantMsg: "mail m1@x stored as loop / inbound"},
		{name: "raw file missing", mutate: func(dir string, _ *sql.DB, r []Entry) []Entry {
			os.Remove(filepath.Join(dir, "mail", "raw", "bbbb.eml"))
			return r
		}, wantMsg: "LOST 1: mail m2@x: raw file"},
		{name: "never received", mutate: func(_ string, _ *sql.DB, r []Entry) []Entry {
			return append(r, Entry{Kind: KindMail, MessageID: "nope@x"}, Entry{Kind: KindChat, Conversation: 99, Seq: 1, ClientID: "c", From: "customer"})
		}, wantMsg: "LOST 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, record := seedDB(t)
			path := filepath.Join(dir, "helpdesk.db")
			if tt.mutate != nil {
				w, err := sql.Open("sqlite3", path)
				if err != nil {
					t.Fatal(err)
				}
				record = tt.mutate(dir, w, record)
				w.Close()
			}
			db, err := OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			v, err := Verify(context.Background(), db, dir, record)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK() != tt.ok || (tt.wantMsg != "" && !strings.Contains(v.String(), tt.wantMsg)) {
				t.Errorf("OK = %v, %s\nwant OK = %v and %q", v.OK(), v, tt.ok, tt.wantMsg)
			}
			if tt.ok && (v.ChatStored != 3 || v.MailStored != 2 || v.Conversations != 2) {
				t.Errorf("counts %+v", v)
			}
		})
	}
}

func TestOpenReadOnlyRefusesWrites(t *testing.T) {
	dir, _ := seedDB(t)
	db, err := OpenReadOnly(filepath.Join(dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM chat_messages`); err == nil {
		t.Error("a read-only database took a write")
	}
	if _, err := OpenReadOnly(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("opened a database that does not exist")
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
