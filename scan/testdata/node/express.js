// A real Express 4 service for scan/node_test.go, run behind an mTLS front
// (node express.js PORT) that forwards the verified certificate's subject
// as X-Client-Subject. State: a balance in memory, read at GET
// /api/balance. Packages: see package.json (npm ci in this folder).
'use strict';
const express = require('express');
const cookieParser = require('cookie-parser');
const session = require('express-session');
const csurf = require('csurf');
const { doubleCsrf } = require('csrf-csrf');
const methodOverride = require('method-override');

const app = express();
let balance = 1000;

function spend(req, res) {
  const n = parseInt((req.body || {}).amount, 10);
  if (!(req.body || {}).to || !(n > 0)) return res.status(400).send('bad fields');
  balance -= n;
  res.send(`<p>sent; balance ${balance}</p>`);
}

// The client certificate authorises every route.
app.use((req, res, next) => (req.get('x-client-subject') ? next() : res.status(403).send('no certificate')));
app.get('/api/balance', (req, res) => res.json({ balance }));

// (a) no defence.
app.post('/open', express.urlencoded({ extended: false }), spend);

// (c) hand-rolled origin checks.
const form = express.urlencoded({ extended: false });
app.post('/origin/prefix', form, (req, res) => { // APP_URL, the site as configured (no port)
  const origin = req.headers.origin || '';
  if (!origin.startsWith('https://localhost')) return res.status(403).send('bad origin');
  spend(req, res);
});
app.post('/origin/referer', form, (req, res) => { // the Referer must mention our host
  if (!req.headers.referer.includes(req.headers.host)) return res.status(403).send('bad referer');
  spend(req, res);
});
app.post('/origin/referer-url', form, (req, res) => { // the Referer must mention our origin
  if (!(req.headers.referer || '').includes(`https://${req.headers.host}`)) return res.status(403).send('bad referer');
  spend(req, res);
});
app.post('/origin/referer-host', form, (req, res) => { // the twin: the Referer's origin compared
  let ok = false;
  try { ok = new URL(req.headers.referer).origin === `https://${req.headers.host}`; } catch (e) {}
  if (!ok) return res.status(403).send('bad referer');
  spend(req, res);
});
app.post('/origin/exact', form, (req, res) => {
  if (req.headers.origin !== `https://${req.headers.host}`) return res.status(403).send('bad origin');
  spend(req, res);
});

// app.all with the query merged into the body, and the Origin checked on
// POST only: a cross-site GET link (no Origin) does the transfer.
app.all('/all/transfer', form, (req, res) => {
  if (req.method === 'POST' && req.headers.origin !== `https://${req.headers.host}`) return res.status(403).send('bad origin');
  req.body = { ...req.query, ...req.body };
  spend(req, res);
});

// (d) JSON APIs: express.json() parses application/json only; the other
// one parses any body as JSON (a text/plain form gets through).
app.post('/api/json', express.json(), spend);
app.post('/api/any-json', express.json({ type: '*/*' }), spend);
// The same, with a strict schema (as Joi's default, zod's .strict()): an
// unknown member is refused, so only a body that is exactly the JSON
// (a no-cors fetch's, not a text/plain form's) gets through.
app.post('/api/strict-json', express.json({ type: '*/*' }), (req, res) => {
  if (Object.keys(req.body).some((k) => !['to', 'amount'].includes(k))) return res.status(400).send('unknown field');
  spend(req, res);
});

// (e) method-override: from the query string (method-override('_method')),
// from the body (its README's custom getter), from a header only (twin).
const put = express.Router();
put.put('/items', spend);
app.use('/mo/query', form, methodOverride('_method'), put);
app.use('/mo/body', form, methodOverride((req) => {
  if (req.body && typeof req.body === 'object' && '_method' in req.body) {
    const m = req.body._method;
    delete req.body._method;
    return m;
  }
}), put);
app.use('/mo/header', form, methodOverride('X-HTTP-Method-Override'), put);

// (b) token libraries, with a session (express-session, MemoryStore).
app.use(cookieParser('forgeproof-test-only'));
app.use(session({ secret: 'forgeproof-test-only', resave: false, saveUninitialized: false }));
app.use(form);
app.get('/login', (req, res) => res.send('<form id="login-form" method="post" action="/login"><input name="username"><input type="password" name="password"></form>'));
app.post('/login', (req, res) => {
  if (req.body.password !== 'demo') return res.status(403).send('bad password');
  req.session.user = req.body.username;
  res.redirect('/');
});
app.get('/', (req, res) => res.send('<p>hello</p>'));
const loggedIn = (req, res, next) => (req.session.user ? next() : res.status(401).send('log in first'));
const tokenForm = (action, token) => `<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${token}"><input name="to"><input name="amount"></form>`;

// csurf's README setup: the secret in a cookie, the token in _csrf.
const csurfCookie = csurf({ cookie: true });
app.get('/csurf/form', loggedIn, csurfCookie, (req, res) => res.send(tokenForm('/csurf/transfer', req.csrfToken())));
app.post('/csurf/transfer', loggedIn, csurfCookie, spend);

// csrf-csrf (double submit), bound to the session, the token in _csrf.
const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
  getSecret: () => 'forgeproof-test-only',
  getSessionIdentifier: (req) => req.session.id,
  getCsrfTokenFromRequest: (req) => req.body._csrf,
});
app.get('/dsc/form', loggedIn, (req, res) => res.send(tokenForm('/dsc/transfer', generateCsrfToken(req, res))));
app.post('/dsc/transfer', loggedIn, doubleCsrfProtection, spend);

app.use((err, req, res, next) => res.status(err.status || 500).send(String(err.message)));
app.listen(parseInt(process.argv[2], 10), '127.0.0.1');
