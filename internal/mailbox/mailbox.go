// Package mailbox reads the two common on-disk mailbox formats, mbox and
// Maildir, one raw message at a time, so a shop can bring its old mail into
// the helpdesk (helpdesk import).
//
// No maintained Go module for either format is reachable from this
// project's module proxy, and both formats are small, so they are read here.
package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// MaxMessageBytes bounds one message; larger ones are reported through the
// callback's error path as ErrTooLarge and skipped.
const MaxMessageBytes = 25 << 20

// ErrTooLarge is passed to Skip for a message over MaxMessageBytes.
var ErrTooLarge = errors.New("message larger than 25 MiB")

// Visitor receives each message. Message is called with the raw bytes
// (CRLF or LF line endings as stored); returning an error stops the walk.
// Skip, when set, is told about a message that could not be read.
type Visitor struct {
	Message func(raw []byte) error
	Skip    func(where string, err error)
}

func (v Visitor) skip(where string, err error) {
	if v.Skip != nil {
		v.Skip(where, err)
	}
}

// ReadMbox walks an mbox file: messages separated by "From " lines, with
// ">From " quoting (mboxrd and mboxo) undone. It returns the number of
// messages handed to v.Message.
func ReadMbox(r io.Reader, v Visitor) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		msg      bytes.Buffer
		n        int
		inMsg    bool
		tooLarge bool
		prevNL   = true // the start of the file counts as after a blank line
		lineNo   int
		startAt  int
	)
	flush := func() error {
		if !inMsg {
			return nil
		}
		inMsg = false
		if tooLarge {
			v.skip(fmt.Sprintf("message at line %d", startAt), ErrTooLarge)
			tooLarge = false
			msg.Reset()
			return nil
		}
		raw := bytes.Clone(msg.Bytes())
		msg.Reset()
		n++
		return v.Message(raw)
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			if prevNL && isSeparator(line) {
				if ferr := flush(); ferr != nil {
					return n, ferr
				}
				inMsg, startAt = true, lineNo
				prevNL = false
				continue
			}
			if inMsg && !tooLarge {
				// Undo quoting: ">From ", ">>From ", … lose one '>'.
				if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
					line = line[1:]
				}
				if msg.Len()+len(line) > MaxMessageBytes {
					tooLarge = true
				} else {
					msg.Write(line)
				}
			}
			prevNL = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("mbox: read: %w", err)
		}
	}
	// The blank separator line before the next "From " belongs to the
	// format, not to the message; flush trims nothing else.
	return n, flush()
}

// separatorRE matches an mbox "From " line: "From sender date", where the
// date carries a clock time. Requiring the time keeps an unquoted body line
// that merely starts with "From " (which careless writers leave behind)
// from splitting a message.
var separatorRE = regexp.MustCompile(`^From \S+ .*\b\d{1,2}:\d{2}(:\d{2})?\b`)

func isSeparator(line []byte) bool {
	return bytes.HasPrefix(line, []byte("From ")) && separatorRE.Match(line)
}

// ReadMaildir walks a Maildir folder: every file in new/ and cur/, in name
// order (which is delivery order for standard names). It returns the number
// of messages handed to v.Message.
func ReadMaildir(dir string, v Visitor) (int, error) {
	var files []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && e.Name()[0] != '.' {
				files = append(files, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	if files == nil {
		if _, err := os.Stat(filepath.Join(dir, "cur")); err != nil {
			if _, err2 := os.Stat(filepath.Join(dir, "new")); err2 != nil {
				return 0, fmt.Errorf("maildir: %s has neither cur/ nor new/", dir)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	n := 0
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			v.skip(f, err)
			continue
		}
		if info.Size() > MaxMessageBytes {
			v.skip(f, ErrTooLarge)
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			v.skip(f, err)
			continue
		}
		n++
		if err := v.Message(raw); err != nil {
			return n, err
		}
	}
	return n, nil
}

// CountMbox counts the messages in an mbox file cheaply, for a progress bar.
func CountMbox(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n, prevNL := 0, true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if prevNL && isSeparator(line) {
				n++
			}
			prevNL = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			prevNL = false
			continue
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
