package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/loadgen"
)

// TestSelfMode runs the tool end to end against its in-process chat
// server and checks the report and the record file.
func TestSelfMode(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "run.jsonl")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-self", "-customers", "12", "-agents", "2", "-rate", "120",
		"-agent-rate", "10", "-duration", "1s", "-record", rec}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	report := out.String()
	for _, want := range []string{"customers: 12 of 12 connected, 12 first messages stored, 12 chats accepted", "chat ", "deliver ", "agent ", "server RSS (pid", "recorded: "} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := loadgen.ReadRecord(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ conv, seq int64 }
	seen := map[key]bool{}
	convs := map[int64]bool{}
	agents := 0
	for _, e := range entries {
		k := key{e.Conversation, e.Seq}
		if e.Kind != loadgen.KindChat || seen[k] {
			t.Fatalf("entry %+v (seen before: %v)", e, seen[k])
		}
		seen[k] = true
		convs[e.Conversation] = true
		if e.From == "agent" {
			agents++
		}
	}
	// 12 first messages plus about 120 in the window, some answers.
	if len(convs) != 12 || len(entries) < 12+60 || agents == 0 {
		t.Errorf("%d entries over %d conversations, %d from agents", len(entries), len(convs), agents)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "tokens", args: []string{"-agents", "2", "-agent-token", "x", "-customers", "1"}, want: "2 agent tokens"},
		{name: "self with mail", args: []string{"-self", "-mail-rate", "5", "-smtp", "127.0.0.1:1"}, want: "-self serves chat only"},
		{name: "verify without data", args: []string{"-verify", "x.jsonl"}, want: "-verify needs -data"},
		{name: "missing token file", args: []string{"-agent-tokens-file", "/nonexistent/tokens"}, want: "no such file"},
		{name: "stray argument", args: []string{"now"}, want: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReadLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte("# agents\ntok1\n\n  tok2  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readLines(p)
	if err != nil || strings.Join(got, ",") != "tok1,tok2" {
		t.Errorf("readLines = %q, %v", got, err)
	}
}
