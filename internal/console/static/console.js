// actiongate console: progressive enhancement. Every page works without this
// script; with it, forms marked data-enhance are sent with fetch and only the
// regions they name are replaced (typed values, secrets included, stay in
// their fields), the authentication settings open as a modal dialog, files
// load into the schema editor, and copy buttons copy.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  // --- Dialogs --------------------------------------------------------------
  function openDialog(id) {
    const d = document.getElementById(id);
    if (d && !d.open) {
      d.showModal();
    } else if (d && !d.matches(':modal')) {
      d.close();
      d.showModal();
    }
  }

  function updateAuthSummary() {
    const out = document.getElementById('auth-summary');
    const form = out && out.closest('form');
    if (!form) return;
    const type = (form.querySelector('input[name="auth"]:checked') || {}).value;
    const stored = function (flag) { return out.dataset[flag] === 'true' ? 'set' : 'not set'; };
    if (type === 'api_key') {
      const place = (form.querySelector('input[name="key_auth_type"]:checked') || {}).value || 'bearer';
      const names = { basic: 'Basic', bearer: 'Bearer', custom: 'custom header ' + (form.elements.custom_header.value || '…'), document: 'as the document says' };
      const key = form.elements.api_key.value !== '' ? 'new key typed, not saved yet' : 'key ' + stored('hasApiKey');
      out.textContent = 'API key (' + names[place] + '), ' + key;
    } else if (type === 'oauth') {
      const secret = form.elements.client_secret.value !== '' ? 'new client secret typed, not saved yet' : 'client secret ' + stored('hasClientSecret');
      out.textContent = 'OAuth, client ' + (form.elements.client_id.value || '(no client ID)') + ', ' + secret;
    } else {
      out.textContent = 'None';
    }
  }

  for (const d of document.querySelectorAll('dialog.auth-dialog')) {
    // Rendered open so that it shows in place without this script.
    d.close();
    d.addEventListener('close', updateAuthSummary);
    // Enter in a one-line field closes the dialog rather than saving the form.
    d.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.type !== 'checkbox' && e.target.type !== 'radio') {
        e.preventDefault();
        d.close();
      }
    });
  }

  document.addEventListener('click', function (e) {
    const opener = e.target.closest('[data-dialog-open]');
    if (opener) {
      openDialog(opener.dataset.dialogOpen);
      return;
    }
    const closer = e.target.closest('[data-dialog-close]');
    if (closer) {
      const d = closer.closest('dialog');
      if (d) d.close();
      updateAuthSummary(); // now, not only on the (later) close event
      return;
    }
    const copy = e.target.closest('[data-copy]');
    if (copy) copyValue(copy);
  });

  // --- Copy buttons -----------------------------------------------------------
  function copyValue(button) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copy + '-copied');
    if (!field) return;
    const say = function (msg) { if (status) status.textContent = msg; };
    const fallback = function () {
      field.focus();
      field.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      say(ok ? 'Copied.' : 'Selected — press Ctrl+C (⌘C) to copy.');
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say('Copied.'); }, fallback);
    } else {
      fallback();
    }
  }

  // --- Schema file ------------------------------------------------------------
  document.addEventListener('change', function (e) {
    const input = e.target;
    if (input.matches && input.matches('input[type="file"][data-load-into]')) {
      const file = input.files && input.files[0];
      if (!file) return;
      const target = document.getElementById(input.dataset.loadInto);
      const status = document.getElementById('file-status');
      file.text().then(function (text) {
        target.value = text;
        input.value = ''; // the text is in the editor now; don't upload it twice
        if (status) status.textContent = 'Loaded ' + file.name + ' (' + Math.ceil(file.size / 1024) + ' KB).';
        const check = input.form && input.form.querySelector('button[name="intent"][value="check"]');
        if (check) input.form.requestSubmit(check);
      }, function () {
        if (status) status.textContent = 'Could not read ' + file.name + '.';
      });
      return;
    }
    if (input.matches && input.matches('select[data-autosubmit]')) {
      input.form.requestSubmit();
    }
  });

  // --- Enhanced forms ----------------------------------------------------------
  document.addEventListener('submit', function (e) {
    const form = e.target;
    if (!form.hasAttribute('data-enhance') || form.method.toLowerCase() !== 'post') return;
    e.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    const body = new FormData(form, e.submitter || undefined);
    const regions = (form.dataset.swap || '').split(/\s+/).filter(Boolean);
    form.setAttribute('aria-busy', 'true');
    for (const id of regions) {
      const r = document.getElementById(id);
      if (r) r.setAttribute('aria-busy', 'true');
    }
    fetch(form.action, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf, 'X-Console-Fetch': '1' },
    }).then(function (resp) {
      const to = resp.headers.get('X-Console-Location');
      if (to) {
        window.location.assign(to);
        return null;
      }
      if (resp.redirected) { // e.g. the session ended: the sign-in page
        window.location.assign(resp.url);
        return null;
      }
      return resp.text().then(function (html) { swap(html, regions); });
    }).catch(function () {
      const r = document.getElementById(regions[0]);
      if (r) {
        const p = document.createElement('p');
        p.className = 'error';
        p.setAttribute('role', 'alert');
        p.textContent = 'The gateway could not be reached. Check your connection and try again.';
        r.replaceChildren(p);
      }
    }).finally(function () {
      form.removeAttribute('aria-busy');
      for (const id of regions) {
        const r = document.getElementById(id);
        if (r) r.removeAttribute('aria-busy');
      }
    });
  });

  // swap replaces the children of each named region with the same region of
  // the answer. Regions stay in the document, so their aria-live announces.
  function swap(html, regions) {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    let found = false;
    for (const id of regions) {
      const now = document.getElementById(id);
      const next = doc.getElementById(id);
      if (!now) continue;
      found = found || !!next;
      now.replaceChildren.apply(now, next ? Array.from(next.childNodes).map(function (n) { return document.adoptNode(n); }) : []);
    }
    if (!found) { // an error page: show it whole
      document.title = doc.title;
      document.body.replaceWith(document.adoptNode(doc.body));
      return;
    }
    const dialogTrigger = document.querySelector('[data-open-dialog]');
    if (dialogTrigger) {
      openDialog(dialogTrigger.dataset.openDialog);
      return;
    }
    // Move focus to what needs attention: an error, a confirmation, a sign-in
    // button, else the first swapped region's content.
    const target = document.querySelector('#' + regions.join(' [role="alert"], #') + ' [role="alert"]') ||
      document.getElementById('confirm-run') || document.getElementById('signin-link');
    if (target) {
      if (!target.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute('tabindex', '-1');
      }
      target.focus();
    }
  }

  // A page rendered with an authentication error opens the dialog at once.
  const initial = document.querySelector('[data-open-dialog]');
  if (initial) openDialog(initial.dataset.openDialog);
})();
