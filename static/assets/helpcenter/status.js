// The live "open now" line in the contact section, from GET /api/status.
//
// The page already prints the posted hours, so if the request fails the
// line simply stays hidden. Times are shown in the shop's time zone (the
// status's "timezone"), since that is the zone the posted hours are in.

const el = document.querySelector('[data-status]');
if (el) {
  update(el);
}

async function update(target) {
  let status;
  try {
    const res = await fetch('/api/status', { headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    status = await res.json();
  } catch {
    return;
  }
  if (typeof status.open !== 'boolean') return;

  const main = document.createElement('span');
  const detail = document.createElement('span');
  detail.className = 'status-detail';
  const when = formatChange(status.next_change, status.timezone, status.now);

  if (status.open) {
    main.textContent = status.chat_available ? 'Open now — chat with us' : 'Open now — call or email us';
    if (when) detail.textContent = `until ${when.day === 'today' ? '' : `${when.day} `}${when.time} ${when.zone}`.trim();
  } else {
    main.textContent = when ? `Closed — opens ${when.day} ${when.time} ${when.zone}`.trim() : 'Closed';
    if (!when) detail.textContent = 'Email us and we’ll reply when we’re back.';
  }
  target.replaceChildren(main);
  if (detail.textContent) target.append(' ', detail);
  target.dataset.open = String(status.open);
  target.dataset.chat = String(Boolean(status.chat_available));
  target.hidden = false;
}

// formatChange returns the parts of next_change as the shop's clock shows
// it: {day: "Mon", time: "6:00 AM", zone: "PT"}, or null when there is no
// usable time. day is "today" or "tomorrow" when that reads better. A change
// more than a year away is none: the server reports the end of its
// look-ahead when the hours never change (always open).
function formatChange(next, timeZone, now) {
  const at = new Date(next);
  if (!next || Number.isNaN(at.getTime())) return null;
  if (at - new Date(now) > 365 * 864e5) return null;
  const zone = validZone(timeZone);
  const parts = (options) => new Intl.DateTimeFormat('en-US', { timeZone: zone, ...options }).formatToParts(at);
  const pick = (list, type) => list.find((p) => p.type === type)?.value ?? '';

  const time = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', minute: '2-digit' }).format(at);
  let zoneName = '';
  for (const style of ['shortGeneric', 'short']) {
    try {
      zoneName = pick(parts({ hour: 'numeric', timeZoneName: style }), 'timeZoneName');
      break;
    } catch {
      // shortGeneric is newer than Intl itself; fall back to short.
    }
  }

  const day = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short' }).format(at);
  const ref = new Date(now);
  let dayWord = day;
  if (!Number.isNaN(ref.getTime())) {
    const ymd = (d) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
    const tomorrow = new Date(ref.getTime() + 24 * 60 * 60 * 1000);
    if (ymd(at) === ymd(ref)) dayWord = 'today';
    else if (ymd(at) === ymd(tomorrow) && at.getTime() - ref.getTime() < 36 * 60 * 60 * 1000) dayWord = 'tomorrow';
  }
  return { day: dayWord, time, zone: zoneName };
}

function validZone(timeZone) {
  if (typeof timeZone !== 'string' || timeZone === '') return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return timeZone;
  } catch {
    return undefined; // unknown zone: use the browser's
  }
}
