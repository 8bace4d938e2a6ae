package loadgen

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	const status = "Name:\thelpdesk\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1290640 kB\nVmSize:\t 1290640 kB\nVmHWM:\t   98304 kB\nVmRSS:\t   45120 kB\nRssAnon:\t   30000 kB\nThreads:\t12\n"
	tests := []struct {
		name    string
		in      string
		want    ProcMem
		wantErr string
	}{
		{name: "full", in: status, want: ProcMem{RSS: 45120, HWM: 98304}},
		{name: "no HWM", in: "VmRSS:\t 12 kB\n", want: ProcMem{RSS: 12}},
		{name: "no trailing newline", in: "VmHWM:\t7 kB\nVmRSS:\t5 kB", want: ProcMem{RSS: 5, HWM: 7}},
		{name: "kernel thread", in: "Name:\tkthreadd\nState:\tS\n", wantErr: "no VmRSS"},
		{name: "empty", in: "", wantErr: "no VmRSS"},
		{name: "bad number", in: "VmRSS:\t12x kB\n", wantErr: "malformed VmRSS"},
		{name: "other unit", in: "VmRSS:\t12 MB\n", wantErr: "malformed VmRSS"},
		{name: "negative", in: "VmRSS:\t-12 kB\n", wantErr: "malformed VmRSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatus([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadProcMemSelf(t *testing.T) {
	m, err := ReadProcMem(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("own memory %+v", m)
	}
	if _, err := ReadProcMem(-1); err == nil {
		t.Error("pid -1 has memory")
	}
}

func TestMemSamplerSeesPeak(t *testing.T) {
	// The process grows to 300 MiB, falls back to 120, then dies.
	readings := []int64{100, 150, 300, 200, 120}
	var mu sync.Mutex
	n := 0
	read := func() (ProcMem, error) {
		mu.Lock()
		defer mu.Unlock()
		if n >= len(readings) {
			return ProcMem{}, errors.New("no such process")
		}
		rss := readings[n] << 10
		n++
		return ProcMem{RSS: rss, HWM: 300 << 10}, nil
	}
	s := sampleWith(context.Background(), 42, read, time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := n >= len(readings)
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rep, err := s.stop()
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("err = %v, want the last read's error", err)
	}
	want := MemReport{PID: 42, Start: 100 << 10, End: 120 << 10, Peak: 300 << 10, HWM: 300 << 10, Samples: 5}
	if rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	if line := rep.String(); !strings.Contains(line, "start 100.0 MiB, end 120.0 MiB, peak 300.0 MiB") {
		t.Errorf("report line %q", line)
	}
}
