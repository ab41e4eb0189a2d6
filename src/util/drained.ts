/** Waiting for a writable's buffer to empty, as one promise. */

/** Node's streams and streamx's (tar-stream's) alike. */
export interface DrainingStream {
  readonly destroyed: boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Resolves on the stream's next 'drain', or when it closes: a destroyed stream's 'close' has
 * been (or is being) emitted and will not come again, so it resolves at once and the caller
 * checks `destroyed`.
 */
export function drained(stream: DrainingStream): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
