// A jetsaga sample web app: counts its visits in the PostgreSQL database jetsaga made for it
// (app.toml [[addons]]) and answers with the count. Listens on PORT, only on HOST (loopback).
const http = require('node:http');
const { Pool } = require('pg');

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
if (!process.env.DATABASE_URL) {
  console.error('postgres-visits: DATABASE_URL is not set (deploy it with jetsaga serve --addon-postgres <url>)');
  process.exit(1);
}
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
// A dropped connection must not take the app down: the next query opens another.
pool.on('error', (err) => console.error(`postgres-visits: idle connection lost: ${err.message}`));

// Safe to run on every start: each version of the app runs it, and they share the database.
const ready = pool.query('CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');

async function visit() {
  await ready;
  await pool.query('INSERT INTO visits DEFAULT VALUES');
  const { rows } = await pool.query('SELECT count(*)::int AS visits FROM visits');
  return rows[0].visits;
}

const send = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);

http
  .createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    if (path === '/healthz') {
      // Healthy only once the database answers and the table exists.
      ready.then(() => pool.query('SELECT 1')).then(() => send(res, 200, { ok: true }), (err) => send(res, 503, { ok: false, error: err.message }));
      return;
    }
    if (path !== '/') {
      send(res, 404, { error: 'not found' });
      return;
    }
    visit().then((visits) => send(res, 200, { app: 'postgres-visits', visits }), (err) => send(res, 500, { error: err.message }));
  })
  .listen(port, host, () => console.log(`postgres-visits listening on http://${host}:${port}`));

for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => pool.end().finally(() => process.exit(0)));
