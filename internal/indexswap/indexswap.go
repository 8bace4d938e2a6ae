// Package indexswap replaces an on-disk search index folder atomically.
//
// A search index (the FAQ's, the tickets') is rebuilt in a sibling folder
// and moved into place only once complete: the live folder is renamed to a
// trash folder inside the build folder, and the new one renamed into its
// place. Each rename is atomic, so after a crash at any point the index
// folder holds the old complete index, the new complete index, or nothing
// (which the owner's next start rebuilds), never a partial one. Build
// folders a crashed process left behind carry a prefix derived from the
// index folder's name, so that each index removes only its own.
package indexswap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Build is a folder next to an index folder in which its replacement is
// built. Remove it when done, whatever happened.
type Build struct {
	dir  string // the live index folder
	work string // the build folder
}

// Begin creates a build folder for the index at dir.
func Begin(dir string) (*Build, error) {
	work, err := os.MkdirTemp(filepath.Dir(dir), Prefix(dir))
	if err != nil {
		return nil, fmt.Errorf("create build folder: %w", err)
	}
	return &Build{dir: dir, work: work}, nil
}

// Path is where the new index is to be built (it does not exist yet).
func (b *Build) Path() string { return filepath.Join(b.work, "index") }

// Replace moves the built index into place, the old one (if any) into the
// build folder. The owner must have closed both indexes. On error,
// oldInPlace reports whether the old index is still (or again) at the index
// folder, so that the owner can reopen it.
func (b *Build) Replace() (oldInPlace bool, err error) {
	trash := filepath.Join(b.work, "old")
	if err := os.Rename(b.dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	if err := os.Rename(b.Path(), b.dir); err != nil {
		return os.Rename(trash, b.dir) == nil, err
	}
	syncDir(filepath.Dir(b.dir))
	return false, nil
}

// Remove deletes the build folder with whatever is left in it (the old
// index after a Replace, a partial build after a failure).
func (b *Build) Remove() error { return os.RemoveAll(b.work) }

// RemoveLeftovers deletes the build folders of the index at dir that a
// crashed process left behind; other indexes' build folders, which may be
// in use, are not touched. It returns the folders it could not remove.
func RemoveLeftovers(dir string) (failed []string, err error) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), Prefix(dir)+"*"))
	var errs []error
	for _, m := range matches {
		if rerr := os.RemoveAll(m); rerr != nil {
			failed = append(failed, m)
			errs = append(errs, rerr)
		}
	}
	return failed, errors.Join(errs...)
}

// Prefix names the build folders of the index at dir: each is a sibling
// of dir whose name starts with it.
func Prefix(dir string) string { return "." + filepath.Base(dir) + ".build-" }

// syncDir flushes a directory's entries, making the renames durable.
// Failure only weakens crash safety, which the owner's next start repairs.
func syncDir(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = f.Sync()
	_ = f.Close()
}
