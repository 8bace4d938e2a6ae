package chat

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/tickets"
)

// RedisViewers is tickets.Viewers ("who is viewing this ticket") shared by
// every node: one hash per ticket, agent id -> JSON {name, activity,
// since, seen} (times in unix ms), updated by one script so a touch is
// atomic, expiring tickets.ViewerTTL after the last touch like
// tickets.MemoryViewers. The lead swaps it in through
// tickets.Options.Viewers when Redis is configured.
type RedisViewers struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time
}

var _ tickets.Viewers = (*RedisViewers)(nil)

// NewRedisViewers returns viewers kept in rdb under prefix.
func NewRedisViewers(rdb *redis.Client, prefix string, now func() time.Time) *RedisViewers {
	if now == nil {
		now = time.Now
	}
	return &RedisViewers{rdb: rdb, prefix: prefix, now: now}
}

func (v *RedisViewers) key(ticketID int64) string {
	return v.prefix + "viewers:" + strconv.FormatInt(ticketID, 10)
}

// touchViewer mirrors tickets.MemoryViewers.Touch: a new or expired entry
// starts now (an empty activity means viewing); otherwise a changed
// activity restarts "since", a given name replaces the old one, and "seen"
// moves to now.
var touchViewer = redis.NewScript(`
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local v = nil
if cur then v = cjson.decode(cur) end
if (not v) or (now - v.seen >= ttl) then
  local act = ARGV[3]
  if act == '' then act = 'viewing' end
  v = {name = ARGV[2], activity = act, since = now, seen = now}
else
  if ARGV[3] ~= '' and ARGV[3] ~= v.activity then
    v.activity = ARGV[3]
    v.since = now
  end
  if ARGV[2] ~= '' then v.name = ARGV[2] end
  v.seen = now
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(v))
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

type redisViewer struct {
	Name     string `json:"name"`
	Activity string `json:"activity"`
	Since    int64  `json:"since"`
	Seen     int64  `json:"seen"`
}

// Touch implements tickets.Viewers.
func (v *RedisViewers) Touch(ctx context.Context, ticketID int64, vw tickets.Viewer) error {
	if vw.Activity != "" && vw.Activity != tickets.ActivityViewing && vw.Activity != tickets.ActivityReplying {
		return apperr.Invalid("activity must be %q or %q", tickets.ActivityViewing, tickets.ActivityReplying)
	}
	err := touchViewer.Run(ctx, v.rdb, []string{v.key(ticketID)},
		vw.AgentID, vw.Name, vw.Activity, v.now().UnixMilli(), tickets.ViewerTTL.Milliseconds()).Err()
	if err != nil {
		return apperr.Internal("chat: touch viewer", err)
	}
	return nil
}

// List implements tickets.Viewers.
func (v *RedisViewers) List(ctx context.Context, ticketID int64) ([]tickets.Viewer, error) {
	all, err := v.rdb.HGetAll(ctx, v.key(ticketID)).Result()
	if err != nil {
		return nil, apperr.Internal("chat: list viewers", err)
	}
	now := v.now().UnixMilli()
	ttl := tickets.ViewerTTL.Milliseconds()
	out := []tickets.Viewer{}
	// Expired entries are skipped, not deleted (a delete could race a
	// touch); the hash itself expires one TTL after its last touch.
	for field, raw := range all {
		id, err := strconv.ParseInt(field, 10, 64)
		var rv redisViewer
		if err != nil || json.Unmarshal([]byte(raw), &rv) != nil || now-rv.Seen >= ttl {
			continue
		}
		out = append(out, tickets.Viewer{AgentID: id, Name: rv.Name, Activity: rv.Activity, Since: time.UnixMilli(rv.Since)})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].AgentID < out[j].AgentID
	})
	return out, nil
}
