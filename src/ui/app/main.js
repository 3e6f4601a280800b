// @ts-check
/**
 * The dashboard's shell: sign-in (the token asked once, kept in sessionStorage — this tab only),
 * who is signed in, and hash routing to the pages. Pages get a Session and a place to render.
 */
import { Api, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { renderAudit } from './pages/audit.js';
import { renderModels } from './pages/models.js';
import { renderOverview } from './pages/overview.js';
import { renderRoute } from './pages/route.js';

const TOKEN_KEY = 'croupier.token';

/**
 * @typedef {{ api: Api, name: string, role: 'admin' | 'viewer', say: (message: string) => void,
 *   refresh: () => void }} Session
 */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const status = /** @type {HTMLElement} */ (document.getElementById('status'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const sessionBar = /** @type {HTMLElement} */ (document.getElementById('session'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));

/** @type {Session | null} */
let session = null;
/** Each render has a number: a slow page answering after the reader moved on draws nothing. */
let renderCount = 0;

let sayTimer = 0;
/** A short note in the status line (read out by screen readers), gone after a while. @param {string} message */
function say(message) {
  status.textContent = message;
  clearTimeout(sayTimer);
  sayTimer = window.setTimeout(() => {
    status.textContent = '';
  }, 8000);
}

/** @param {string} token */
async function signIn(token) {
  const api = new Api(token);
  const me = await api.get('/admin/whoami');
  session = { api, name: String(me.name), role: me.role === 'admin' ? 'admin' : 'viewer', say, refresh: render };
  sessionStorage.setItem(TOKEN_KEY, token);
  who.textContent = `Signed in as ${session.name} (${session.role})`;
  nav.hidden = false;
  sessionBar.hidden = false;
}

function signOut() {
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  nav.hidden = true;
  sessionBar.hidden = true;
  who.textContent = '';
  say('Signed out.');
  render();
}

/** @param {string} [problem] */
function signInForm(problem) {
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, problem ?? '');
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title', novalidate: true },
    h('h1', { id: 'sign-in-title' }, 'Sign in to Croupier'),
    h('p', {}, 'The token is kept in this tab only, and sent with every call the dashboard makes.'),
    h('label', { for: 'token' }, 'Admin or viewer token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (token === '') {
      error.textContent = 'Enter a token.';
      return;
    }
    error.textContent = '';
    signIn(token).then(
      () => render(),
      (err) => {
        error.textContent =
          err instanceof ApiError && err.status === 401
            ? 'That token is not accepted.'
            : `Cannot sign in: ${err.message}`;
        input.select();
      },
    );
  });
  replace(main, form);
  input.focus();
}

/** Marks the current page in the navigation. @param {string} page */
function markNav(page) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function render() {
  const count = ++renderCount;
  if (!session) return signInForm();
  const [page = 'overview', arg, option] = location.hash.replace(/^#\/?/, '').split('/');
  markNav(page);
  const target = h('div', { class: 'page', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading…'));
  replace(main, target);
  const s = session;
  /** @type {Record<string, () => Promise<void>>} */
  const pages = {
    overview: () => renderOverview(s, target),
    route: () => renderRoute(s, target, decodeURIComponent(arg ?? ''), option),
    models: () => renderModels(s, target),
    audit: () => renderAudit(s, target),
  };
  const draw = pages[page] ?? pages.overview;
  draw().then(
    () => {
      if (count === renderCount) target.removeAttribute('aria-busy');
    },
    (err) => {
      if (count !== renderCount) return;
      if (err instanceof ApiError && err.status === 401) {
        signOut();
        signInForm('The token is no longer accepted: sign in again.');
        return;
      }
      target.removeAttribute('aria-busy');
      replace(target, h('p', { class: 'error', role: 'alert' }, `Cannot show this page: ${err.message}`));
    },
  );
}

// The skip link moves focus without touching the hash, which is the page's route.
/** @type {HTMLAnchorElement} */ (document.querySelector('a.skip')).addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
/** @type {HTMLButtonElement} */ (document.getElementById('sign-out')).addEventListener('click', signOut);
/** @type {HTMLButtonElement} */ (document.getElementById('refresh')).addEventListener('click', () => render());
window.addEventListener('hashchange', () => {
  render();
  main.focus();
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved)
  signIn(saved).then(render, () => {
    sessionStorage.removeItem(TOKEN_KEY);
    signInForm();
  });
else render();
