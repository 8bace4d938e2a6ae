package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSearchStreamCountsAndPaces(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			http.Error(w, "boom", 500)
			return
		}
		w.Write([]byte(`{"results":[]}`))
	}))
	defer srv.Close()
	start := time.Now()
	s := Search(context.Background(), SearchOptions{BaseURL: srv.URL, Rate: 200, Workers: 4, Total: 50})
	if s.Sent != 50 || s.OK != 45 || s.Errors != 5 || !strings.Contains(s.FirstErr, "500") {
		t.Errorf("stats = %+v", s)
	}
	// 50 calls at 200/s take about 250 ms; far less means no pacing.
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("50 calls at 200/s took only %v", time.Since(start))
	}
	if s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
		t.Errorf("percentiles p50 %v p99 %v max %v", s.P50, s.P99, s.Max)
	}
}

func TestFillerText(t *testing.T) {
	s := fillerText(10 << 10)
	if len(s) < 10<<10 || len(s) > 11<<10 {
		t.Errorf("len = %d", len(s))
	}
	for _, line := range strings.Split(s, "\r\n") {
		if len(line) > 80 {
			t.Fatalf("line of %d bytes", len(line))
		}
	}
}
