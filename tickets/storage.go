package tickets

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are content-addressed: the name is the SHA-256 of the content, so a
// file is written once however often the same bytes arrive, and a name in
// the database always means the same bytes.

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// rawPath is where the raw message with the given digest is kept.
func (s *Service) rawPath(sum string) string {
	return filepath.Join(s.rawDir, sum+".eml")
}

// attachmentPath is where the attachment with the given digest is kept; the
// two-character fan-out keeps folders small.
func (s *Service) attachmentPath(sum string) string {
	return filepath.Join(s.attDir, sum[:2], sum)
}

// writeOnce stores data at path durably unless a file of the same size is
// already there. It writes a temporary file in the same folder, fsyncs it,
// renames it into place and fsyncs the folder, so that after a crash path
// holds either nothing or all of data, and once writeOnce returns the
// content survives a power cut.
func writeOnce(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(len(data)) {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
