package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/mailbox"
)

// importCmd runs "helpdesk import --mbox FILE" or "--maildir DIR": every
// message goes through the same pipeline as mail arriving over SMTP
// (threading, duplicates, attachments), without acknowledgements. Running
// it twice imports nothing twice.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, load := config.FlagSet("import", getenv, stderr)
	mboxPath := fs.String("mbox", "", "an mbox file to import")
	maildir := fs.String("maildir", "", "a Maildir folder (with cur/ and new/) to import")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if (*mboxPath == "") == (*maildir == "") {
		return errors.New("give exactly one of --mbox FILE or --maildir DIR")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	c, err := openCore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer c.close()

	total := 0
	if *mboxPath != "" {
		f, err := os.Open(*mboxPath)
		if err != nil {
			return fmt.Errorf("--mbox: %w", err)
		}
		total, err = mailbox.CountMbox(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--mbox: %w", err)
		}
	}
	bar := progress{w: stdout, total: total}
	var created, threaded, dupes, skipped int
	v := mailbox.Visitor{
		Message: func(raw []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := c.tix.Import(ctx, raw)
			switch {
			case err != nil:
				skipped++
				bar.note(fmt.Sprintf("skipped message %d: %v", bar.done+1, err))
			case res.Duplicate || res.Loop:
				dupes++
			case res.Created:
				created++
			default:
				threaded++
			}
			bar.step()
			return nil
		},
		Skip: func(where string, err error) {
			skipped++
			bar.note(fmt.Sprintf("skipped %s: %v", where, err))
		},
	}
	if *mboxPath != "" {
		f, err := os.Open(*mboxPath)
		if err != nil {
			return fmt.Errorf("--mbox: %w", err)
		}
		defer f.Close()
		_, err = mailbox.ReadMbox(f, v)
		if err != nil {
			return err
		}
	} else if _, err := mailbox.ReadMaildir(*maildir, v); err != nil {
		return err
	}
	bar.finish()
	fmt.Fprintf(stdout, "imported %d messages: %d new tickets, %d added to existing tickets, %d already imported, %d skipped\n",
		created+threaded, created, threaded, dupes, skipped)
	return nil
}

// progress draws a one-line progress bar, redrawn in place with \r.
type progress struct {
	w     io.Writer
	total int // 0 when unknown
	done  int
}

func (p *progress) step() {
	p.done++
	if p.total > 0 && (p.done%10 == 0 || p.done == p.total) {
		const width = 30
		filled := p.done * width / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.done, p.total)
	} else if p.total == 0 && p.done%50 == 0 {
		fmt.Fprintf(p.w, "\r%d messages", p.done)
	}
}

func (p *progress) note(s string) { fmt.Fprintf(p.w, "\r%s\n", s) }

func (p *progress) finish() {
	if p.done > 0 {
		fmt.Fprintln(p.w)
	}
}
