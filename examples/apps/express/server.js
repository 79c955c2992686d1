// examples/apps/express/server.js: the NiceLogin SDK's integrations, in Express with node-postgres,
// with the database verifying the token (nicelogin) instead of the app.
//
// Routes wrapped in asTenant() run in one transaction that starts with
// set_config('nicelogin.token', $1, true) (a bind parameter, local to the transaction); the
// tables' row-level security policies then show and accept this tenant's rows only.  A token the
// extension refuses becomes a 401 carrying nicelogin_check()'s reason.
//
// Run (node 18 or later):
//
//     npm ci
//     NOTES_DATABASE_URL='postgresql:///notes?user=notes_app' \
//     NOTES_ADMIN_DATABASE_URL='postgresql:///notes?user=notes_admin' \
//     NOTES_OUTBOX=/tmp/outbox PORT=8000 node server.js
//
// Endpoints: see examples/README.md.
'use strict';

const fs = require('fs');
const path = require('path');
const express = require('express');
const { Pool } = require('pg');

// notes_app: RLS applies to it.  notes_admin: may call nicelogin_deactivate()/activate().
const pool = new Pool({ connectionString: process.env.NOTES_DATABASE_URL, max: 4 });
const adminPool = new Pool({ connectionString: process.env.NOTES_ADMIN_DATABASE_URL, max: 2 });
// The password endpoints need no login and wait, inside the database, for NiceLogin's answer (up to
// nicelogin.http_timeout, which only a superuser sets): a pool of their own, so that slow or many
// such requests cannot take the connections of the tenants' requests, and statement_timeout (which
// the app may set) to stop a call sooner.
const apiPool = new Pool({ connectionString: process.env.NOTES_DATABASE_URL, max: 2 });
const API_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = '3s'";
// POST /reset-password answers the same whether the email has an account or not
const RESET_ACCEPTED = { message: 'if the email has an account, a reset email is on its way' };

// SQLSTATEs of the extension's API errors and of RLS refusals -> HTTP status
const HTTP_STATUS = {
  '22023': 400, '22P02': 400, '28000': 401, '42501': 403, 'P0002': 404,
  '57014': 504, '08006': 502, '58000': 502,
};

class Refused extends Error {
  constructor(status, body) {
    super(body.error);
    this.status = status;
    this.body = body;
  }
}

function bearerToken(req) {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(req.get('Authorization') || '');
  return m ? m[1] : null;
}

// Run handler(req, db) in a transaction; with asTenant, as the bearer token's tenant.  The
// transaction commits before the response is sent.
function inTransaction(handler, { asTenant, dbPool = pool }) {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (asTenant && !token) {
      return refuse(res, 'missing_token');
    }
    let db;
    try {
      db = await dbPool.connect();
      await db.query('BEGIN');
      if (asTenant) {
        const { rows } = await db.query(
          "SELECT nicelogin.nicelogin_check($1) AS reason, set_config('nicelogin.token', $1, true)",
          [token]);
        if (rows[0].reason !== 'valid') {
          await db.query('ROLLBACK');
          return refuse(res, rows[0].reason);
        }
      }
      const [status, body] = await handler(req, db);
      await db.query('COMMIT');
      res.status(status).json(body);
    } catch (err) {
      if (db) await db.query('ROLLBACK').catch(() => {});
      if (err instanceof Refused) {
        res.status(err.status).json(err.body);
      } else if (err.code in HTTP_STATUS) {
        res.status(HTTP_STATUS[err.code]).json({ error: err.message });
      } else {
        next(err);
      }
    } finally {
      if (db) db.release();
    }
  };
}
const asTenant = (handler) => inTransaction(handler, { asTenant: true });
// the password endpoints: no tenant, a connection of apiPool
const apiCall = (handler) => inTransaction(handler, { asTenant: false, dbPool: apiPool });

function refuse(res, reason) {
  res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  res.status(401).json({ error: 'invalid token', reason });
}

// Stands in for a mailer: writes the message to a file in NOTES_OUTBOX.
function sendEmail(to, subject, body) {
  const outbox = process.env.NOTES_OUTBOX || 'outbox';
  fs.mkdirSync(outbox, { recursive: true });
  fs.writeFileSync(path.join(outbox, `${process.hrtime.bigint()}.json`),
    JSON.stringify({ to, subject, body }));
}

const app = express();
app.use(express.json());

app.get('/me', asTenant(async (req, db) => {
  const { rows } = await db.query(
    'SELECT nicelogin.nicelogin_user_id() AS user_id, nicelogin.nicelogin_email() AS email,' +
    ' nicelogin.nicelogin_company_id() AS company_id');
  return [200, rows[0]];
}));

app.get('/notes', asTenant(async (req, db) => {
  const { rows } = await db.query('SELECT id, company_id, author, body FROM notes ORDER BY id');
  return [200, rows];
}));

app.post('/notes', asTenant(async (req, db) => {
  const { body, company_id: companyId = null } = req.body || {};
  if (typeof body !== 'string') throw new Refused(400, { error: 'body must be a string' });
  const { rows } = await db.query(
    'INSERT INTO notes (company_id, body)' +
    ' VALUES (coalesce($1::uuid, nicelogin.nicelogin_company_id()), $2)' +
    ' RETURNING id, company_id, author, body', [companyId, body]);
  return [201, rows[0]];
}));

app.post('/reset-password', apiCall(async (req, db) => {
  const { email } = req.body || {};
  await db.query(API_STATEMENT_TIMEOUT);
  try {
    await db.query('SAVEPOINT reset');
    const { rows } = await db.query('SELECT nicelogin.nicelogin_request_password_reset($1) AS t', [email]);
    sendEmail(email, 'Password reset', `Your password reset token: ${rows[0].t}`);
  } catch (err) {
    if (err.code !== 'P0002') throw err; // NiceLogin's 404: no such user; the client is not told
    console.warn(`password reset for an unknown email: ${err.message}`);
    await db.query('ROLLBACK TO SAVEPOINT reset');
  }
  return [202, RESET_ACCEPTED];
}));

app.post('/reset-password/confirm', apiCall(async (req, db) => {
  const d = req.body || {};
  await db.query(API_STATEMENT_TIMEOUT);
  // passwords as bind parameters: logs and pg_stat_statements see $n, not the password
  await db.query('SELECT nicelogin.nicelogin_reset_password($1, $2, $3, $4)',
    [d.email, d.current_password, d.new_password, d.reset_token]);
  return [200, { message: 'password changed' }];
}));

function setActive(active) {
  return asTenant(async (req, db) => {
    const userId = req.params.userId;
    const { rows } = await db.query(
      "SELECT nicelogin.nicelogin_claims() -> 'user_data' ->> 'role' AS role," +
      ' EXISTS (SELECT FROM members WHERE user_id = $1::uuid) AS same_company', [userId]);
    if (rows[0].role !== 'admin') throw new Refused(403, { error: 'admins only' });
    // RLS shows members of the admin's own company only
    if (!rows[0].same_company) throw new Refused(404, { error: 'no such user in your company' });
    // in a transaction of its own: NiceLogin's side cannot be rolled back
    await adminPool.query(active ? 'SELECT nicelogin.nicelogin_activate($1::uuid)'
      : 'SELECT nicelogin.nicelogin_deactivate($1::uuid)', [userId]);
    return [200, { user_id: userId, active }];
  });
}
app.post('/admin/deactivate/:userId', setActive(false));
app.post('/admin/activate/:userId', setActive(true));

const port = Number(process.env.PORT || 8000);
app.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`listening on ${process.env.HOST || '127.0.0.1'}:${port}`);
});
