// Search-as-you-type for every form marked data-suggest.
//
// Without this module the form is a plain GET to /search, which stays the
// fallback: Enter with no suggestion chosen submits it. With it, the input
// becomes an ARIA 1.2 combobox whose listbox shows the best matches from
// GET /api/faq/search, with the matched words highlighted.

const DEBOUNCE_MS = 150;
const LIMIT = 8;
const MAX_QUERY_BYTES = 500; // faq.MaxQueryLen; longer queries are left to the form

for (const form of document.querySelectorAll('form[data-suggest]')) {
  enhance(form);
}

function enhance(form) {
  const input = form.querySelector('input[name="q"]');
  const list = form.querySelector('[role="listbox"]');
  const status = form.querySelector('[data-suggest-status]');
  if (!input || !list || !status) return;

  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);

  let timer = 0;
  let controller = null; // the request in flight, aborted when a newer one starts
  let options = []; // {el, url}
  let active = -1;
  let shownFor = null; // the query the current options answer

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => lookup(input.value), DEBOUNCE_MS);
  });

  input.addEventListener('keydown', (event) => {
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        if (list.hidden && options.length) open();
        move(active + 1);
        break;
      case 'ArrowUp':
        event.preventDefault();
        if (list.hidden && options.length) open();
        move(active < 0 ? options.length - 1 : active - 1);
        break;
      case 'Enter':
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          go(options[active].url);
        }
        // Otherwise the form submits to /search as usual.
        break;
      case 'Escape':
        if (!list.hidden) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = '';
          cancel();
          status.textContent = '';
        }
        break;
      default:
        break;
    }
  });

  input.addEventListener('focus', () => {
    if (options.length && shownFor === input.value.trim()) open();
  });

  // Keep focus in the input while an option is clicked, so the list does
  // not close before the click lands.
  list.addEventListener('mousedown', (event) => event.preventDefault());

  form.addEventListener('focusout', (event) => {
    if (!form.contains(event.relatedTarget)) close();
  });

  document.addEventListener('click', (event) => {
    if (!form.contains(event.target)) close();
  });

  function cancel() {
    clearTimeout(timer);
    if (controller) controller.abort();
    controller = null;
    clear();
  }

  async function lookup(raw) {
    const q = raw.trim();
    if (controller) controller.abort();
    controller = null;
    if (q === '' || new TextEncoder().encode(q).length > MAX_QUERY_BYTES) {
      clear();
      status.textContent = '';
      return;
    }
    if (q === shownFor) {
      open();
      return;
    }
    const mine = new AbortController();
    controller = mine;
    let data;
    try {
      const res = await fetch(`/api/faq/search?q=${encodeURIComponent(q)}&limit=${LIMIT}`, {
        signal: mine.signal,
        headers: { Accept: 'application/json' },
      });
      if (!res.ok) throw new Error(`search answered ${res.status}`);
      data = await res.json();
    } catch {
      // Aborted by a newer keystroke, or the API is unavailable: either way
      // the form still works, so say nothing.
      if (controller === mine) {
        controller = null;
        clear();
      }
      return;
    }
    if (controller !== mine) return; // a newer request owns the list
    controller = null;
    show(q, data);
  }

  function show(q, data) {
    const hits = Array.isArray(data.results) ? data.results : [];
    list.replaceChildren();
    options = [];
    active = -1;
    input.removeAttribute('aria-activedescendant');

    hits.forEach((hit, i) => {
      const li = document.createElement('li');
      li.id = `${list.id}-${i}`;
      li.className = 'suggestion';
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');

      const title = document.createElement('span');
      title.className = 'suggestion-title';
      title.textContent = hit.title;
      const category = document.createElement('span');
      category.className = 'suggestion-category';
      category.textContent = hit.category;
      li.append(title, category);
      if (hit.snippet) {
        const snippet = document.createElement('span');
        snippet.className = 'suggestion-snippet';
        snippet.append(snippetNodes(hit.snippet));
        li.append(snippet);
      }
      add(li, `/kb/${encodeURIComponent(hit.slug)}`);
    });

    const all = document.createElement('li');
    all.id = `${list.id}-all`;
    all.className = 'suggestion suggestion-all';
    all.setAttribute('role', 'option');
    all.setAttribute('aria-selected', 'false');
    all.textContent = hits.length ? `See all results for “${q}”` : `No quick matches — search all articles for “${q}”`;
    add(all, `/search?q=${encodeURIComponent(q)}`);

    shownFor = q;
    const total = Number.isInteger(data.total) ? data.total : hits.length;
    status.textContent = hits.length
      ? `${total} ${total === 1 ? 'article matches' : 'articles match'}. ${hits.length} ${hits.length === 1 ? 'suggestion' : 'suggestions'} shown; use the up and down arrows to choose.`
      : 'No matching articles. Press Enter to search, or contact us.';
    open();
  }

  function add(li, url) {
    li.addEventListener('click', () => go(url));
    list.append(li);
    options.push({ el: li, url });
  }

  function move(i) {
    if (!options.length) return;
    if (active >= 0) options[active].el.setAttribute('aria-selected', 'false');
    active = (i + options.length) % options.length;
    const el = options[active].el;
    el.setAttribute('aria-selected', 'true');
    input.setAttribute('aria-activedescendant', el.id);
    el.scrollIntoView({ block: 'nearest' });
  }

  function open() {
    if (!options.length) return;
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    if (active >= 0) options[active].el.setAttribute('aria-selected', 'false');
    active = -1;
  }

  function clear() {
    close();
    list.replaceChildren();
    options = [];
    shownFor = null;
  }
}

function go(url) {
  window.location.assign(url);
}

// snippetNodes turns a snippet from the API (escaped text with <mark>
// around matches) into DOM nodes, keeping only text and <mark>. The HTML is
// parsed in an inert document, so nothing in it can run or load.
function snippetNodes(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  for (const node of doc.body.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      out.append(node.textContent);
    } else if (node.nodeName === 'MARK') {
      const mark = document.createElement('mark');
      mark.textContent = node.textContent;
      out.append(mark);
    } else {
      out.append(node.textContent);
    }
  }
  return out;
}
