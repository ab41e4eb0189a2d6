/**
 * An AbortSignal that aborts when any of `signals` does, with a `dispose` that detaches it.
 * `AbortSignal.any` would do, but in Node 20 the combined signals stay registered on
 * long-lived sources (a runtime's closing signal) for as long as that source lives.
 */
export function linkedSignal(...signals: readonly AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners: Array<[AbortSignal, () => void]> = [];
  const dispose = (): void => {
    for (const [s, fn] of listeners) s.removeEventListener('abort', fn);
    listeners.length = 0;
  };
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      dispose();
      break;
    }
    const fn = (): void => {
      controller.abort(s.reason);
      dispose();
    };
    listeners.push([s, fn]);
    s.addEventListener('abort', fn, { once: true });
  }
  return { signal: controller.signal, dispose };
}
