package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/logging"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// openAccounts opens just the database and the accounts service, for the
// agent and token commands: they need no search index or server.
func openAccounts(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlitedb.DB, *auth.Service, error) {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data folder: %w", err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.Data, "helpdesk.db"))
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	return db, auth.New(db, auth.Options{Now: time.Now, Logger: log}), nil
}

// agentCmd runs "helpdesk agent add --email E --name N --role R --password-stdin".
func agentCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: helpdesk agent add --email E --name N --role admin|agent --password-stdin")
		return errUsage
	}
	fs, load := config.FlagSet("agent add", getenv, stderr)
	email := fs.String("email", "", "the agent's email address (required)")
	name := fs.String("name", "", "the agent's display name (required)")
	role := fs.String("role", "agent", "admin or agent")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	if done, err := parseFlags(fs, args[1:]); done || err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*email) == "":
		return errors.New("--email is required")
	case strings.TrimSpace(*name) == "":
		return errors.New("--name is required")
	case !auth.Role(*role).Valid():
		return fmt.Errorf("--role must be admin or agent, not %q", *role)
	case !*fromStdin:
		return errors.New("--password-stdin is required: passwords are never taken from the command line")
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogLevel)
	db, svc, err := openAccounts(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := svc.AddAgent(ctx, *email, *name, auth.Role(*role), password)
	if err != nil {
		return fmt.Errorf("agent add: %w", err)
	}
	fmt.Fprintf(stdout, "added %s %s <%s> (id %d)\n", a.Role, a.Name, a.Email, a.ID)
	return nil
}

// readPassword reads one password from r: everything up to the first line
// break, which is dropped, so both `echo pw |` and a file work.
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, auth.MaxPasswordBytes+2))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

// tokenCmd runs "helpdesk token create --agent E --name N", printing the new
// token alone on its line.
func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: helpdesk token create --agent EMAIL --name NAME")
		return errUsage
	}
	fs, load := config.FlagSet("token create", getenv, stderr)
	agent := fs.String("agent", "", "email of the agent the token acts as (required)")
	name := fs.String("name", "", "a name for the token, e.g. the integration using it (required)")
	if done, err := parseFlags(fs, args[1:]); done || err != nil {
		return err
	}
	if strings.TrimSpace(*agent) == "" || strings.TrimSpace(*name) == "" {
		return errors.New("--agent and --name are required")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogLevel)
	db, svc, err := openAccounts(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	token, _, err := svc.CreateToken(ctx, *agent, *name)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(stdout, token)
	return nil
}
