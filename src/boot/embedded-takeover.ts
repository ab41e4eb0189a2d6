/**
 * An embedded server whose port another process took. Two coordinators started at the same
 * moment on one machine both find the default port free and both start an embedded server;
 * one of them loses the bind, and its own process exits — possibly after its readiness probe
 * was answered by the winner's. The loser then uses the winner's server, as it would one found
 * listening at boot (shown as not managed by it), instead of restarting its own for ever
 * against a port in use.
 */
import type { Logger } from '../log.js';
import { isListening, PortInUseError } from './port-probe.js';

const LOOPBACK = '127.0.0.1';

/** Starts the embedded server; undefined when the port was taken since it was found free. */
export async function embedUnlessTaken<T>(start: () => Promise<T>, what: string, port: number, logger: Logger): Promise<T | undefined> {
  try {
    return await start();
  } catch (e) {
    if (!(e instanceof PortInUseError)) throw e;
    logger.warn({ port }, `another process started a server on ${LOOPBACK}:${port} first: using it instead of an embedded ${what} (not managed by this coordinator)`);
    return undefined;
  }
}

/**
 * The embedded server exited: started again when its port is free; when another process
 * listens there now, that one is used (undefined: nothing embedded any more).
 */
export async function replaceExited<T>(start: () => Promise<T>, what: string, port: number, logger: Logger): Promise<T | undefined> {
  if (await isListening(LOOPBACK, port)) {
    logger.warn({ port }, `the embedded ${what} exited and another process listens on ${LOOPBACK}:${port}: using that one (not managed by this coordinator)`);
    return undefined;
  }
  logger.warn(`the embedded ${what} exited: starting it again`);
  return embedUnlessTaken(start, what, port, logger);
}
