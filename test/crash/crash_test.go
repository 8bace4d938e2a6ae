package crash

// TestCrashRecovery is the crash test. It builds ./cmd/helpdesk with
// `go build` into a temporary folder and runs it as a real process on free
// loopback ports (HTTP and SMTP) with a temporary data folder, support
// hours always open and its own address as the public URL. Agents and
// their API tokens are made with the binary's own commands (agent add,
// token create). Then, each cycle:
//
//  1. the mixed load of internal/loadgen runs in this process — customers
//     and agents chatting, mail over SMTP, FAQ searches — recording every
//     acked chat message and every 250'd email;
//  2. a few seconds into the load the server gets SIGKILL;
//  3. one file of its FAQ index (<data>/index/node-0/faq) is damaged;
//  4. the server is started again on the same data folder and must answer
//     /healthz, log that it rebuilt the FAQ index, and answer /readyz;
//  5. the database, opened read-only, must hold every message the record
//     holds (all cycles so far) exactly once (loadgen.Verify); and
//  6. search must work: every query of the load's mix answers 200,
//     "refund" finds articles, and the ticket search (as an agent) finds
//     the run's tickets, including the last email accepted before the kill.
//
// Finally the server is stopped with SIGTERM and must exit cleanly.
//
// Short form (the default): one cycle, 40 customers, 2 agents, 120 chat
// messages/s, 60 emails/s and 20 searches/s for 4 s before the kill; about
// 11 s on a 2-core machine once the build cache is warm (a cold build of
// the binary, mostly SQLite's C code, adds about a minute). It is skipped
// with -short.
//
//	go test ./test/crash
//
// Long form, HELPDESK_CRASH_LONG=1: four cycles of 20 s of load (200
// customers, 4 agents, 600 chat messages/s, 150 emails/s, 30 searches/s)
// before each kill, the FAQ index damaged a different way each time
// (segment cut short, bolt root overwritten, index_meta.json emptied,
// random bytes in the middle of a segment); about 2 minutes 15 s. Chats
// of a killed run stay active (their customers are gone), so from the
// second cycle on the agents' slots are full and they answer in those.
//
//	HELPDESK_CRASH_LONG=1 go test -run TestCrashRecovery -v -timeout 20m ./test/crash
//
// HELPDESK_CRASH_KEEP=1 keeps the data folder, the server logs and the
// record file, and prints where they are.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/loadgen"
)

// plan is the shape of one form of the test.
type plan struct {
	cycles     int
	loadFor    time.Duration // load before the kill
	customers  int
	agents     int
	rate       float64 // customer chat messages per second
	agentRate  float64
	mailRate   float64
	searchRate float64
	damages    []damage // applied in turn, one per cycle
}

var (
	shortPlan = plan{cycles: 1, loadFor: 4 * time.Second, customers: 40, agents: 2,
		rate: 120, agentRate: 10, mailRate: 60, searchRate: 20, damages: damages[:1]}
	longPlan = plan{cycles: 4, loadFor: 20 * time.Second, customers: 200, agents: 4,
		rate: 600, agentRate: 40, mailRate: 150, searchRate: 30, damages: damages}
)

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds the helpdesk and runs it under load for 10-15 s; skipped with -short")
	}
	p := shortPlan
	if os.Getenv("HELPDESK_CRASH_LONG") == "1" {
		p = longPlan
	}
	t0 := time.Now()
	dir := t.TempDir()
	if os.Getenv("HELPDESK_CRASH_KEEP") == "1" {
		var err error
		if dir, err = os.MkdirTemp("", "helpdesk-crash-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping data, logs and record in %s", dir)
	}
	bin := buildHelpdesk(t, dir)
	t.Logf("built the helpdesk in %s", time.Since(t0).Round(time.Millisecond))

	data := filepath.Join(dir, "data")
	tokens := addAgents(t, bin, data, p.agents)
	s := &server{t: t, bin: bin, data: data, logDir: dir, httpAddr: freeAddr(t), smtpAddr: freeAddr(t)}
	t.Cleanup(s.cleanup)
	s.start()

	recPath := filepath.Join(dir, "record.jsonl")
	recFile, err := os.OpenFile(recPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer recFile.Close()
	rec := loadgen.NewRecorder(recFile)
	api := apiClient{t: t, base: "http://" + s.httpAddr, token: tokens[0]}

	for cycle := range p.cycles {
		dmg := p.damages[cycle%len(p.damages)]
		t.Logf("cycle %d of %d: load for %s, SIGKILL, damage the FAQ index (%s), restart", cycle+1, p.cycles, p.loadFor, dmg.name)
		tag := fmt.Sprintf("c%d%s", cycle+1, loadgen.NewTag())
		rep := loadAndKill(t, s, p, tokens, rec, tag)

		if err := dmg.apply(filepath.Join(data, "index", "node-0", "faq")); err != nil {
			t.Fatalf("damage the index: %v", err)
		}
		restarted := time.Now()
		s.start()
		t.Logf("restarted: healthy after %s", time.Since(restarted).Round(time.Millisecond))

		api.wantStatus("/readyz", http.StatusOK)
		checkRecord(t, recPath, data)
		checkSearch(t, api, tag, rep.Mail.Accepted)
		checkRebuilt(t, s.log)
		if t.Failed() {
			break
		}
	}
	s.stop()
	t.Logf("crash test done in %s", time.Since(t0).Round(time.Millisecond))
}

// loadAndKill runs the mixed load against s and kills s p.loadFor into
// the measured window, then ends the load. It returns the load's report.
func loadAndKill(t *testing.T, s *server, p plan, tokens []string, rec *loadgen.Recorder, tag string) loadgen.Report {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	killed := make(chan error, 1)
	killer := make(chan struct{})
	cfg := loadgen.Config{
		URL: "http://" + s.httpAddr, Customers: p.customers, Agents: p.agents, Tokens: tokens,
		Rate: p.rate, AgentRate: p.agentRate, Warmup: 20 * time.Second,
		Duration: 10 * time.Minute, // ended by the kill
		SMTPAddr: s.smtpAddr, MailTo: "support@example.com", MailRate: p.mailRate, MailConns: 8,
		SearchRate: p.searchRate, Record: rec, Tag: tag,
		OnStart: func() {
			go func() {
				defer close(killer)
				select {
				case <-time.After(p.loadFor):
				case <-ctx.Done():
					killed <- errors.New("the load ended before the kill")
					return
				}
				killed <- s.kill()
				time.Sleep(300 * time.Millisecond) // the load meets the dead server
				cancel()
			}()
		},
	}
	rep, err := loadgen.Run(ctx, cfg, t.Output())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	select {
	case <-killer:
	case <-time.After(time.Minute):
		t.Fatal("the server was not killed")
	}
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	// The kill must have hit a server under load, or the test proves
	// nothing.
	if rep.Customers != p.customers || rep.Chat.OK == 0 || rep.Mail.OK == 0 || rep.Search.OK == 0 || (p.agentRate > 0 && rep.Agent.OK == 0) {
		t.Fatalf("too little load before the kill: %d customers, chat %d, agent %d, mail %d, search %d ok",
			rep.Customers, rep.Chat.OK, rep.Agent.OK, rep.Mail.OK, rep.Search.OK)
	}
	return rep
}

// checkRebuilt checks the server's log for the FAQ index rebuild.
func checkRebuilt(t *testing.T, logPath string) {
	t.Helper()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var l struct{ Msg, Reason, Panic string }
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if l.Msg == "faq: building search index" {
			t.Logf("FAQ index rebuilt at start; reason: %s", firstLine(l.Reason))
			return
		}
		// Damage that Open's checks cannot see is found by the first
		// search that reaches it, which rebuilds the index (faq/heal.go).
		if l.Msg == "faq: search index rebuilt after a failed search" {
			t.Logf("FAQ index rebuilt after a search hit the damage")
			return
		}
	}
	t.Errorf("the server did not rebuild the damaged FAQ index (neither at start nor after a failed search, in %s)", logPath)
}

// checkRecord verifies everything recorded so far against the database.
func checkRecord(t *testing.T, recPath, data string) {
	t.Helper()
	f, err := os.Open(recPath)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := loadgen.ReadRecord(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := loadgen.OpenReadOnly(filepath.Join(data, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := loadgen.Verify(t.Context(), db, data, entries)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Errorf("after the crash: %s", v)
		return
	}
	if v.ChatRecorded == 0 || v.MailRecorded == 0 {
		t.Errorf("nothing to verify: %s", v)
	}
	t.Logf("after the crash: %s", v)
}

// checkSearch checks both search indexes after a restart.
func checkSearch(t *testing.T, api apiClient, tag string, accepted []string) {
	t.Helper()
	// A search that reaches damage Open could not see answers 503 while
	// the index is rebuilt in the background; within 30 s every query
	// must answer.
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range loadgen.SearchQueries() {
		path := "/api/faq/search?limit=10&q=" + url.QueryEscape(q)
		for st, _ := api.do(path); st == http.StatusServiceUnavailable && time.Now().Before(deadline); st, _ = api.do(path) {
			time.Sleep(100 * time.Millisecond)
		}
		api.wantStatus(path, http.StatusOK)
	}
	var faq struct {
		Total   int `json:"total"`
		Results []struct {
			Slug string `json:"slug"`
		} `json:"results"`
	}
	api.get("/api/faq/search?q=refund", &faq)
	if faq.Total == 0 || len(faq.Results) == 0 {
		t.Errorf("FAQ search for refund after the restart: %+v", faq)
	}

	// The last email accepted before the kill is the one most likely to
	// be missing from the ticket index; its subject's words find it.
	last := accepted[len(accepted)-1]
	var i int
	if _, err := fmt.Sscanf(strings.TrimPrefix(last, "load-"+tag+"-"), "%d@", &i); err != nil {
		t.Fatalf("Message-ID %q: %v", last, err)
	}
	want := loadgen.MailSubject(tag, i)
	type ticketList struct {
		Tickets []struct {
			ID      int64  `json:"id"`
			Subject string `json:"subject"`
		} `json:"tickets"`
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		var all, one ticketList
		api.get("/api/tickets?limit=100&q="+url.QueryEscape("loadrun"+tag), &all)
		api.get("/api/tickets?q="+url.QueryEscape(fmt.Sprintf("loadrun%s %d", tag, 10000+i)), &one)
		found := len(one.Tickets) > 0 && one.Tickets[0].Subject == want
		if len(all.Tickets) > 0 && found {
			t.Logf("ticket search: %d+ tickets for loadrun%s; the last email accepted before the kill is ticket #%d", len(all.Tickets), tag, one.Tickets[0].ID)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("ticket search after the restart: %d tickets for loadrun%s; %q finds %+v", len(all.Tickets), tag, want, one.Tickets)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// damage is one way of breaking a file of the FAQ index, as a crash or a
// bad disk might.
type damage struct {
	name  string
	apply func(indexDir string) error
}

var damages = []damage{
	{"largest segment cut to half its size", func(dir string) error {
		p, size, err := largestFile(dir, ".zap")
		if err != nil {
			return err
		}
		return os.Truncate(p, size/2)
	}},
	{"store/root.bolt overwritten with random bytes", func(dir string) error {
		return overwrite(filepath.Join(dir, "store", "root.bolt"), 0, -1)
	}},
	{"index_meta.json emptied", func(dir string) error {
		return os.Truncate(filepath.Join(dir, "index_meta.json"), 0)
	}},
	{"4 KiB of random bytes in the middle of the largest segment", func(dir string) error {
		p, size, err := largestFile(dir, ".zap")
		if err != nil {
			return err
		}
		return overwrite(p, size/2, 4096)
	}},
}

func largestFile(dir, ext string) (string, int64, error) {
	var best string
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) {
			return err
		}
		fi, err := d.Info()
		if err == nil && fi.Size() > size {
			best, size = p, fi.Size()
		}
		return err
	})
	if err == nil && best == "" {
		err = fmt.Errorf("no %s file under %s", ext, dir)
	}
	return best, size, err
}

// overwrite writes n random bytes at offset off of the file at p; n < 0
// means to the end of the file.
func overwrite(p string, off, n int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if n < 0 {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		n = fi.Size() - off
	}
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	if _, err := f.WriteAt(buf, off); err != nil {
		return err
	}
	return f.Close()
}

// server is the helpdesk running as a child process; it keeps its
// addresses and data folder across restarts.
type server struct {
	t                  *testing.T
	bin, data, logDir  string
	httpAddr, smtpAddr string
	starts             int
	log                string // the current start's log file
	cmd                *exec.Cmd
	exited             chan struct{}
}

func (s *server) start() {
	t := s.t
	t.Helper()
	s.starts++
	s.log = filepath.Join(s.logDir, fmt.Sprintf("server-%d.log", s.starts))
	f, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "serve", "--addr", s.httpAddr, "--data", s.data, "--smtp-addr", s.smtpAddr,
		"--hours", "Mon-Sun 00:00-24:00", "--public-url", "http://"+s.httpAddr)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close() // the child has its own copy
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("the server exited at start: %v\n%s", cmd.ProcessState, tail(s.log))
		default:
		}
		resp, err := http.Get("http://" + s.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server was not healthy within 60 s\n%s", tail(s.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone. It runs on
// the killer goroutine, so it reports instead of failing the test.
func (s *server) kill() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill the server: %w", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the server did not die within 10 s of SIGKILL")
	}
}

// stop asks the server to shut down (SIGTERM) and checks it exits cleanly.
func (s *server) stop() {
	t := s.t
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not stop within 30 s of SIGTERM\n%s", tail(s.log))
	}
	if !s.cmd.ProcessState.Success() {
		t.Errorf("the server's graceful stop: %v\n%s", s.cmd.ProcessState, tail(s.log))
	}
}

// cleanup kills a server the test left running (it failed midway).
func (s *server) cleanup() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// buildHelpdesk builds the helpdesk binary into dir.
func buildHelpdesk(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		t.Fatalf("the go command is needed to build the helpdesk: %v", err)
	}
	bin := filepath.Join(dir, "helpdesk")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/printshop/helpdesk/cmd/helpdesk")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// addAgents adds n agents with the binary's own commands and returns an
// API token for each.
func addAgents(t *testing.T, bin, data string, n int) []string {
	t.Helper()
	var tokens []string
	for i := 1; i <= n; i++ {
		email := fmt.Sprintf("agent%d@crash.test", i)
		cmd := exec.Command(bin, "agent", "add", "--data", data, "--email", email, "--name", fmt.Sprintf("Crash Agent %d", i),
			"--role", "agent", "--password-stdin")
		cmd.Env = cleanEnv()
		cmd.Stdin = strings.NewReader("a long enough password for the crash test\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("agent add: %v\n%s", err, out)
		}
		cmd = exec.Command(bin, "token", "create", "--data", data, "--agent", email, "--name", "crash test")
		cmd.Env = cleanEnv()
		cmd.Stderr = io.Discard
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("token create: %v", err)
		}
		tok := strings.TrimSpace(string(out))
		if tok == "" || strings.Contains(tok, "\n") {
			t.Fatalf("token create printed %q, want the token alone", out)
		}
		tokens = append(tokens, tok)
	}
	return tokens
}

// cleanEnv is this process's environment without HELPDESK_* settings,
// so that only the test's flags configure the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELPDESK_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// apiClient calls the helpdesk's JSON API as an agent.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(path string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

func (c apiClient) wantStatus(path string, want int) {
	c.t.Helper()
	if st, body := c.do(path); st != want {
		c.t.Errorf("GET %s: status %d, want %d: %s", path, st, want, body)
	}
}

func (c apiClient) get(path string, out any) {
	c.t.Helper()
	st, body := c.do(path)
	if st != http.StatusOK {
		c.t.Fatalf("GET %s: status %d: %s", path, st, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// tail returns the end of a log file, for failure messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
