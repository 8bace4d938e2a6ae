package faq

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
)

// newTestApp serves the search handler behind an error handler that renders
// errors the way the shared one does.
func newTestApp(ix *Index) *fiber.App {
	app := fiber.New(fiber.Config{
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return c.Status(apperr.KindOf(err).Status()).JSON(fiber.Map{"error": apperr.PublicMessage(err)})
		},
	})
	app.Get("/api/faq/search", NewHandlers(ix).Search)
	return app
}

func get(t *testing.T, app *fiber.App, query url.Values) (int, map[string]json.RawMessage) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", "/api/faq/search?"+query.Encode(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("response %s is not a JSON object: %v", body, err)
	}
	return resp.StatusCode, out
}

func keys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestHTTPSearch(t *testing.T) {
	app := newTestApp(openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()}))

	status, body := get(t, app, url.Values{"q": {"refund"}, "limit": {"2"}})
	if status != 200 {
		t.Fatalf("status %d, body %v", status, body)
	}
	if got, want := keys(body), []string{"categories", "query", "results", "total"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	var res Results
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.Query != "refund" || res.Total < 1 || len(res.Results) < 1 || len(res.Results) > 2 || len(res.Categories) == 0 {
		t.Errorf("response = %+v", res)
	}
	var hits []map[string]json.RawMessage
	if err := json.Unmarshal(body["results"], &hits); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(hits[0]), []string{"category", "score", "slug", "snippet", "title", "url"}; !slices.Equal(got, want) {
		t.Errorf("result keys = %v, want %v", got, want)
	}
	if res.Results[0].Slug != "refund-timing" || res.Results[0].URL != "/kb/refund-timing" {
		t.Errorf("first result = %+v", res.Results[0])
	}

	// No match is an empty list, not null.
	status, body = get(t, app, url.Values{"q": {"zzzzqqq"}})
	if status != 200 || string(body["results"]) != "[]" || string(body["categories"]) != "[]" || string(body["total"]) != "0" {
		t.Errorf("no match: %d %s %s %s", status, body["results"], body["categories"], body["total"])
	}

	// The category filter.
	status, body = get(t, app, url.Values{"q": {"refund shipping"}, "category": {"shipping-delivery"}})
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var filtered Results
	raw, _ = json.Marshal(body)
	_ = json.Unmarshal(raw, &filtered)
	for _, h := range filtered.Results {
		if h.Category != "Shipping & Delivery" {
			t.Errorf("category filter let %s (%s) through", h.Slug, h.Category)
		}
	}
}

func TestHTTPSearchBadRequests(t *testing.T) {
	app := newTestApp(openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()}))
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"no q", url.Values{}, "q is required"},
		{"empty q", url.Values{"q": {""}}, "q is required"},
		{"blank q", url.Values{"q": {"   "}}, "q is required"},
		{"q too long", url.Values{"q": {strings.Repeat("a", MaxQueryLen+1)}}, ErrQueryTooLong.Public},
		{"limit not a number", url.Values{"q": {"refund"}, "limit": {"ten"}}, "limit must be a positive whole number"},
		{"limit zero", url.Values{"q": {"refund"}, "limit": {"0"}}, "limit must be a positive whole number"},
		{"limit negative", url.Values{"q": {"refund"}, "limit": {"-3"}}, "limit must be a positive whole number"},
		{"bad category", url.Values{"q": {"refund"}, "category": {"!!"}}, ErrCategory.Public},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, app, tt.query)
			if status != 400 {
				t.Errorf("status = %d, want 400", status)
			}
			var msg string
			if err := json.Unmarshal(body["error"], &msg); err != nil || msg != tt.want {
				t.Errorf("body = %v, want {\"error\": %q}", body, tt.want)
			}
			if len(body) != 1 {
				t.Errorf("body has keys %v, want only error", keys(body))
			}
		})
	}

	// A limit over the maximum is clamped, not refused.
	if status, _ := get(t, app, url.Values{"q": {"refund"}, "limit": {"100000"}}); status != 200 {
		t.Errorf("huge limit: status %d, want 200", status)
	}
}
