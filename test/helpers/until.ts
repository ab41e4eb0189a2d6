/**
 * Polls `cond` until it holds; fails after `timeoutMs`. Tests wait on conditions, not on time:
 * the timeout only bounds a wait for something that is not coming, so it is generous enough
 * for a loaded machine.
 */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
