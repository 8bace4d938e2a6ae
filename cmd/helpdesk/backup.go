package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// backupCmd runs "helpdesk backup --out FILE": a consistent copy of the
// database taken while the server keeps running (SQLite's VACUUM INTO reads
// one snapshot, so concurrent writes neither block it nor tear it). The
// content-addressed folders (mail/raw, attachments) only ever gain files
// and can be copied with any file tool; search indexes are caches and are
// not backed up. docs/operations.md has the whole procedure.
func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, load := config.FlagSet("backup", getenv, stderr)
	out := fs.String("out", "", "file to write the database copy to (must not exist)")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out FILE is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("--out %s already exists; backups never overwrite", *out)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.Data, "helpdesk.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s", path)
	}
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	abs, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if _, err := db.W.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database copied to %s (%d bytes)\n", abs, info.Size())
	return nil
}
