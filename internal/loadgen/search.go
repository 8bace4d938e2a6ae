package loadgen

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// SearchOptions configures a search stream.
type SearchOptions struct {
	BaseURL string  // http://127.0.0.1:8080
	Rate    float64 // searches per second
	Workers int     // requests in flight at most; 8
	Total   int     // stop after this many (0: until ctx ends)
}

// searchQueries is a mix of what customers type, typos included.
var searchQueries = []string{
	"refund", "where is my order", "trackng number", "free shipping", "canada",
	"toner vs ink", "high yield", "pasword locked", "coupon code", "pay by check",
	"remanufactured cartridge", "ink level empty", "how long does shipping take",
	"return policy two years", "government account", "sent my ink back 2 weeks ago still no money",
}

// SearchQueries returns the queries the search stream picks from.
func SearchQueries() []string { return slices.Clone(searchQueries) }

// Search runs FAQ searches (GET /api/faq/search) and reports latency as
// seen by the client; anything but a 200 is an error.
func Search(ctx context.Context, o SearchOptions) Stats {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers}}
	defer client.CloseIdleConnections()
	col := &collector{}
	start := time.Now()
	pace(ctx, o.Rate, o.Workers, o.Total, func(_, _ int) {
		q := searchQueries[rand.IntN(len(searchQueries))]
		t0 := time.Now()
		resp, err := client.Get(o.BaseURL + "/api/faq/search?limit=5&q=" + url.QueryEscape(q))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		col.done(time.Since(t0), "", err)
	})
	return col.stats("search", "GET /api/faq/search → 200", time.Since(start))
}
