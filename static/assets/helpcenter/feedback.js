// "Was this article helpful?" — one vote per article, sent as
// POST /api/kb/articles/{slug}/feedback {"helpful": true|false}.
//
// The widget is hidden in the page and only shown here, since it cannot
// work without JavaScript.

for (const box of document.querySelectorAll('[data-feedback]')) {
  enhance(box);
}

function enhance(box) {
  const slug = box.dataset.slug;
  const message = box.querySelector('[data-feedback-message]');
  const buttons = [...box.querySelectorAll('button[data-helpful]')];
  if (!slug || !message || buttons.length === 0) return;

  for (const button of buttons) {
    button.setAttribute('aria-pressed', 'false');
    button.addEventListener('click', () => vote(button));
  }
  box.hidden = false;

  async function vote(button) {
    const helpful = button.dataset.helpful === 'true';
    setDisabled(true);
    button.setAttribute('aria-pressed', 'true');
    message.textContent = 'Sending…';
    let res;
    try {
      res = await fetch(`/api/kb/articles/${encodeURIComponent(slug)}/feedback`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ helpful }),
      });
    } catch {
      res = null;
    }
    if (res && res.status === 201) {
      message.textContent = helpful
        ? 'Thanks for your feedback! We’re glad it helped.'
        : 'Thanks for your feedback. We’ll use it to improve this article.';
    } else if (res && res.status === 429) {
      message.textContent = 'You already told us about this article — thanks!';
    } else {
      // Nothing was recorded, so let the customer try again.
      message.textContent = 'Sorry, we couldn’t save your feedback just now. Please try again later.';
      button.setAttribute('aria-pressed', 'false');
      setDisabled(false);
    }
  }

  function setDisabled(disabled) {
    for (const b of buttons) b.disabled = disabled;
  }
}
