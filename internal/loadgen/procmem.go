package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ProcMem is a process's memory as the kernel reports it in
// /proc/PID/status, in KiB.
type ProcMem struct {
	RSS int64 // VmRSS: resident now
	HWM int64 // VmHWM: the most ever resident ("high water mark")
}

// ReadProcMem reads the memory figures of process pid.
func ReadProcMem(pid int) (ProcMem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcMem{}, err
	}
	return parseProcStatus(data)
}

// parseProcStatus reads VmRSS and VmHWM ("VmRSS:\t  12345 kB") from the
// text of /proc/PID/status. VmRSS is required; VmHWM is 0 when absent.
func parseProcStatus(data []byte) (ProcMem, error) {
	var m ProcMem
	var haveRSS bool
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst, haveRSS = &m.RSS, true
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return ProcMem{}, fmt.Errorf("proc status: malformed %s line %q", key, line)
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			return ProcMem{}, fmt.Errorf("proc status: malformed %s line %q", key, line)
		}
		*dst = v
	}
	if !haveRSS {
		return ProcMem{}, errors.New("proc status: no VmRSS line (a kernel thread, or a process that ended?)")
	}
	return m, nil
}

// MemReport is the server's memory over a run, in KiB.
type MemReport struct {
	PID     int
	Start   int64 // RSS when the run started
	End     int64 // RSS at the end, sockets still open
	Peak    int64 // highest RSS sampled
	HWM     int64 // the kernel's VmHWM at the end: the peak since the process started
	Samples int
}

func (m MemReport) String() string {
	return fmt.Sprintf("server RSS (pid %d): start %s, end %s, peak %s sampled (%d samples); VmHWM %s",
		m.PID, kib(m.Start), kib(m.End), kib(m.Peak), m.Samples, kib(m.HWM))
}

func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

// memSampler samples a process's RSS every interval until stopped.
type memSampler struct {
	read   func() (ProcMem, error)
	mu     sync.Mutex
	rep    MemReport
	lastEr error
	cancel context.CancelFunc
	done   chan struct{}
}

// sampleMem starts sampling pid's memory; the goroutine it starts ends
// with ctx or stop.
func sampleMem(ctx context.Context, pid int, interval time.Duration) *memSampler {
	return sampleWith(ctx, pid, func() (ProcMem, error) { return ReadProcMem(pid) }, interval)
}

// sampleWith samples memory as read reports it.
func sampleWith(ctx context.Context, pid int, read func() (ProcMem, error), interval time.Duration) *memSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &memSampler{read: read, cancel: cancel, done: make(chan struct{}), rep: MemReport{PID: pid}}
	if m, err := s.sample(); err == nil {
		s.rep.Start = m.RSS
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = s.sample()
			}
		}
	}()
	return s
}

func (s *memSampler) sample() (ProcMem, error) {
	m, err := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastEr = err
		return m, err
	}
	s.rep.Samples++
	s.rep.Peak = max(s.rep.Peak, m.RSS)
	s.rep.HWM = m.HWM
	s.rep.End = m.RSS
	return m, nil
}

// now takes a sample at once and returns the RSS.
func (s *memSampler) now() (int64, error) {
	m, err := s.sample()
	return m.RSS, err
}

// stop ends sampling after one last sample and returns the report and the
// last error met, if any.
func (s *memSampler) stop() (MemReport, error) {
	_, _ = s.sample()
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rep, s.lastEr
}

// RaiseFileLimit lifts this process's open-file soft limit to its hard
// limit, and the hard limit too when allowed (root), so that thousands of
// sockets fit. It returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	want := lim
	if want.Max < 1<<20 {
		want.Max = 1 << 20
	}
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return want.Cur, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
