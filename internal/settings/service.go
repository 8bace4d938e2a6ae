package settings

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/sqlitedb"
	"github.com/printshop/helpdesk/tickets"
)

// DefaultPollInterval is how often Run looks for changes saved by other
// processes.
const DefaultPollInterval = 10 * time.Second

// Acks is where inbox acknowledgement settings take effect;
// *tickets.Service implements it.
type Acks interface {
	Inboxes() []tickets.Inbox
	BaseAck(address string) (tickets.AckSetting, bool)
	Acks() map[string]tickets.AckSetting
	SetAcks(map[string]tickets.AckSetting)
}

// Auditor records admin changes; *auth.Service implements it.
type Auditor interface {
	Record(ctx context.Context, ev auth.Event) error
}

// Defaults are the hours the flags give, in force until an admin saves
// others.
type Defaults struct {
	Weekly   hours.Weekly
	Location *time.Location
	Holidays []hours.Date
}

// Options configures a Service. Schedule and Defaults.Location are
// required.
type Options struct {
	Schedule     *hours.Schedule // the schedule everyone holds; saved hours are applied to it
	Defaults     Defaults
	Acks         Acks    // nil: inbox settings are not available
	Auditor      Auditor // nil: changes are not audited
	Now          func() time.Time
	Logger       *slog.Logger
	PollInterval time.Duration // default DefaultPollInterval
}

// Service reads, validates, stores and applies the settings. It is safe
// for concurrent use.
type Service struct {
	db    *sqlitedb.DB
	sched *hours.Schedule
	def   Defaults
	acks  Acks
	audit Auditor
	now   func() time.Time
	log   *slog.Logger
	poll  time.Duration

	// mu serialises refresh, so that two reloads never apply out of order
	// and applied always names what the schedule and acks hold.
	mu      sync.Mutex
	applied int64 // settings_version last applied; -1 before the first load
}

// New returns a Service over db. Call Load before serving requests so that
// saved settings override the flags from the start.
func New(db *sqlitedb.DB, o Options) (*Service, error) {
	if db == nil || o.Schedule == nil || o.Defaults.Location == nil {
		return nil, errors.New("settings: database, schedule and default location are required")
	}
	s := &Service{db: db, sched: o.Schedule, def: o.Defaults, acks: o.Acks, audit: o.Auditor,
		now: o.Now, log: o.Logger, poll: o.PollInterval, applied: -1}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	return s, nil
}

// Load reads every saved setting and applies it, whether or not anything
// changed since the last load.
func (s *Service) Load(ctx context.Context) error {
	return s.refresh(ctx, true)
}

// Run polls for settings saved by other processes every PollInterval and
// applies them, until ctx ends; then it returns nil. A failed poll is
// logged and tried again at the next tick.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.refresh(ctx, false); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "settings: reload", "err", err)
			}
		}
	}
}

// refresh applies the stored settings when their version differs from the
// one applied last, or always when force is set.
func (s *Service) refresh(ctx context.Context, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, err := readAll(ctx, s.db.R)
	if err != nil {
		return err
	}
	if !force && snap.version == s.applied {
		return nil
	}
	s.apply(ctx, snap)
	s.applied = snap.version
	return nil
}

// apply puts a snapshot of the stored settings into effect. A stored value
// that no longer validates (hand-edited, or from a newer binary) is logged
// and its flag value used instead: a bad row must not stop the helpdesk.
func (s *Service) apply(ctx context.Context, snap snapshot) {
	v := hoursValue{weekly: s.def.Weekly, loc: s.def.Location, holidays: s.def.Holidays}
	if row, ok := snap.rows[keyHours]; ok {
		var h Hours
		if err := decode(row.value, &h); err != nil {
			s.log.ErrorContext(ctx, "settings: stored hours are unreadable; using the flags", "err", err)
		} else if hv, err := h.validate(); err != nil {
			s.log.ErrorContext(ctx, "settings: stored hours are invalid; using the flags", "err", err)
		} else {
			v = hv
		}
	}
	s.sched.Set(v.weekly, v.loc, v.holidays)

	if s.acks == nil {
		return
	}
	acks := map[string]tickets.AckSetting{}
	for _, in := range s.acks.Inboxes() {
		row, ok := snap.rows[inboxKey(in.Address)]
		if !ok {
			continue
		}
		var iv inboxValue
		if err := decode(row.value, &iv); err != nil {
			s.log.ErrorContext(ctx, "settings: stored inbox setting is unreadable; using the flags", "inbox", in.Address, "err", err)
			continue
		}
		acks[in.Address] = tickets.AckSetting{Enabled: iv.AckEnabled, Text: iv.AckText}
	}
	s.acks.SetAcks(acks)
}

// Hours returns the hours setting in force.
func (s *Service) Hours(ctx context.Context) (HoursView, error) {
	row, ok, err := readOne(ctx, s.db.R, keyHours)
	if err != nil {
		return HoursView{}, apperr.Internal("settings: read hours", err)
	}
	now := s.now()
	v := HoursView{
		Hours:  hoursValue{weekly: s.sched.Weekly(), loc: s.sched.Location(), holidays: s.sched.Holidays()}.canonical(),
		Source: SourceFlags,
		Open:   s.sched.Open(now),
	}
	if ok {
		v.Source, v.UpdatedAt = SourceSaved, &row.updatedAt
	}
	if next := s.sched.NextChange(now); !next.IsZero() {
		v.NextChange = next.Format(time.RFC3339)
	}
	return v, nil
}

// SetHours validates h, stores it, applies it to the schedule and records
// it in the audit log. It returns an apperr.KindInvalid error naming the
// field that is wrong.
func (s *Service) SetHours(ctx context.Context, h Hours) (HoursView, error) {
	v, err := h.validate()
	if err != nil {
		return HoursView{}, err
	}
	c := v.canonical()
	if err := s.save(ctx, keyHours, c); err != nil {
		return HoursView{}, err
	}
	s.record(ctx, auth.Event{Action: ActionHoursChanged, Target: "hours", Detail: c})
	return s.Hours(ctx)
}

// Inboxes lists every inbox with its acknowledgement in force. It returns
// an empty list when inbox settings are not available.
func (s *Service) Inboxes(ctx context.Context) ([]Inbox, error) {
	out := []Inbox{}
	if s.acks == nil {
		return out, nil
	}
	snap, err := readAll(ctx, s.db.R)
	if err != nil {
		return nil, apperr.Internal("settings: read inboxes", err)
	}
	runtime := s.acks.Acks()
	for _, in := range s.acks.Inboxes() {
		out = append(out, s.inboxView(in, snap.rows[inboxKey(in.Address)], runtime))
	}
	return out, nil
}

// inboxView describes one inbox. What is in force comes from the ticket
// service (what it will really do); whether it was saved, and when, from
// the stored row.
func (s *Service) inboxView(in tickets.Inbox, row storedRow, runtime map[string]tickets.AckSetting) Inbox {
	base, _ := s.acks.BaseAck(in.Address)
	v := Inbox{
		Address: in.Address, Queue: in.Queue,
		AckEnabled: base.Enabled, AckText: base.Text,
		DefaultAckEnabled: base.Enabled, DefaultAckText: base.Text,
		Source: SourceFlags, Placeholders: tickets.AckPlaceholders,
	}
	if a, ok := runtime[in.Address]; ok {
		v.AckEnabled = a.Enabled
		if a.Text != "" {
			v.AckText = a.Text
		}
	}
	if row.key != "" {
		v.Source, v.UpdatedAt = SourceSaved, &row.updatedAt
	}
	return v
}

// SetInbox validates and stores the acknowledgement of the inbox with the
// given address (any case), applies it and audits it. It returns
// ErrUnknownInbox or an apperr.KindInvalid error.
func (s *Service) SetInbox(ctx context.Context, address string, in InboxInput) (Inbox, error) {
	if s.acks == nil {
		return Inbox{}, ErrUnknownInbox
	}
	addr := strings.ToLower(strings.TrimSpace(address))
	if _, ok := s.acks.BaseAck(addr); !ok {
		return Inbox{}, ErrUnknownInbox
	}
	v, err := in.validate()
	if err != nil {
		return Inbox{}, err
	}
	if err := s.save(ctx, inboxKey(addr), v); err != nil {
		return Inbox{}, err
	}
	s.record(ctx, auth.Event{Action: ActionInboxChanged, Target: "inbox:" + addr,
		Detail: map[string]any{"ack_enabled": v.AckEnabled, "ack_text_length": len(v.AckText)}})
	list, err := s.Inboxes(ctx)
	if err != nil {
		return Inbox{}, err
	}
	for _, ib := range list {
		if ib.Address == addr {
			return ib, nil
		}
	}
	return Inbox{}, ErrUnknownInbox
}

// save stores value under key, bumping the version, and applies the result
// in this process at once.
func (s *Service) save(ctx context.Context, key string, value any) error {
	var actor int64
	if a, ok := auth.FromContext(ctx); ok {
		actor = a.ID
	}
	if err := writeSetting(ctx, s.db, key, value, actor, s.now()); err != nil {
		return apperr.Internal("settings: save "+key, err)
	}
	if err := s.refresh(ctx, false); err != nil {
		return apperr.Internal("settings: apply "+key, err)
	}
	return nil
}

// record writes ev to the audit log. The change is already committed and
// applied; a failure to audit it is logged, not returned.
func (s *Service) record(ctx context.Context, ev auth.Event) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "settings: audit", "action", ev.Action, "err", err)
	}
}
