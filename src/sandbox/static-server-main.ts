/**
 * Child entry of the built-in static server: `node static-server-main.js <dir>` serves <dir> on
 * 127.0.0.1:$PORT until SIGTERM or SIGINT. Logs (pino JSON) go to stdout, which the controller
 * writes to the sandbox's log. Exits 2 on bad arguments, 1 when it cannot listen.
 */
import { createLogger } from '../log.js';
import { startStaticServer } from './static-server.js';

const logger = createLogger({ name: 'jetsaga-static' });
const [root] = process.argv.slice(2);
const port = Number(process.env.PORT);

if (!root || !Number.isInteger(port) || port < 1 || port > 65_535) {
  logger.fatal({ root, port: process.env.PORT }, 'usage: PORT=<port> static-server-main <dir>');
  process.exit(2);
}

try {
  const server = await startStaticServer({ root, port, logger });
  logger.info({ root: server.root, url: `http://127.0.0.1:${server.port}` }, 'serving static files');
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err, root, port }, 'cannot serve');
  process.exit(1);
}
