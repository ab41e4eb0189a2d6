// A jetsaga sample web app: answers on PORT (and only on HOST, loopback by default).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const built = fs.existsSync(path.join(__dirname, 'build-info.json')) ? JSON.parse(fs.readFileSync(path.join(__dirname, 'build-info.json'), 'utf8')) : null;

http
  .createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ app: 'node-hello', greeting: process.env.GREETING ?? 'hello', built })}\n`);
  })
  .listen(port, host, () => console.log(`node-hello listening on http://${host}:${port}`));
