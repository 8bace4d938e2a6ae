// Package nodedir gives each helpdesk process on a host its own folder for
// per-process caches (search indexes) inside a shared data folder.
//
// Several processes may serve one shop from one data folder. The database
// is shared, but a Bleve index can be opened by one process only, so each
// process claims the first free slot <base>/node-0, node-1, … by holding an
// exclusive flock on <slot>/.lock for as long as it runs. The lock dies with
// the process (even on kill -9), so a restarted process gets its old slot —
// and its warm index — back, and no setting is needed.
package nodedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// MaxSlots bounds how many processes may share one data folder.
const MaxSlots = 64

// Dir is a claimed slot. Release it when the process stops using it.
type Dir struct {
	Path string
	Slot int
	lock *os.File
}

// Acquire claims the lowest free slot under base.
func Acquire(base string) (*Dir, error) {
	for i := 0; i < MaxSlots; i++ {
		path := filepath.Join(base, fmt.Sprintf("node-%d", i))
		if err := os.MkdirAll(path, 0o750); err != nil {
			return nil, fmt.Errorf("nodedir: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(path, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("nodedir: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Dir{Path: path, Slot: i, lock: f}, nil
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("nodedir: lock %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("nodedir: all %d slots under %s are in use", MaxSlots, base)
}

// Release gives the slot up.
func (d *Dir) Release() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := d.lock.Close() // closing the descriptor drops the flock
	d.lock = nil
	return err
}
