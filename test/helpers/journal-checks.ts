/**
 * Assertions on a saga's decoded journal (`runtime.events(id)`) shared by the crash tests:
 * nothing lost (entry numbers 1..n without a gap), nothing duplicated (no step result of one
 * key twice), and summaries of what it holds.
 */
import { expect } from 'vitest';
import type { JournalView } from '../../src/runtime/runtime.js';

/** `<result type>|<key>` of every step result, in journal order. */
export function resultsOf(journal: readonly JournalView[]): string[] {
  return journal
    .filter((e) => typeof e.event?.key === 'string')
    .map((e) => `${e.event!.type}|${e.event!.key as string}`);
}

/** Invocation ids with a done result in the journal, in journal order (`reserve`, `undo.ship`, ...). */
export function doneActors(journal: readonly JournalView[]): string[] {
  const prefix = 'xstate.done.actor.';
  return journal.filter((e) => e.event?.type.startsWith(prefix)).map((e) => e.event!.type.slice(prefix.length));
}

export function takeoversOf(journal: readonly JournalView[]): Array<NonNullable<JournalView['takeover']> & { entryNo: number; at: number }> {
  return journal.filter((e) => e.takeover).map((e) => ({ ...e.takeover!, entryNo: e.entryNo, at: e.at }));
}

/**
 * Void entries (number 0: starts fenced off before their init) only before the init; then
 * entry numbers 1..n, stream seqs increasing, one init entry first, no result twice.
 */
export function expectWellFormed(all: readonly JournalView[]): void {
  const voids = all.findIndex((e) => !e.void);
  expect(all.slice(voids < 0 ? all.length : voids).filter((e) => e.void)).toEqual([]);
  const journal = voids < 0 ? [] : all.slice(voids);
  expect(journal.map((e) => e.entryNo)).toEqual(journal.map((_, i) => i + 1));
  const seqs = journal.map((e) => e.streamSeq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(journal[0]?.init).toBeDefined();
  expect(journal.slice(1).filter((e) => e.init !== undefined)).toEqual([]);
  const results = resultsOf(journal);
  expect(results.filter((r, i) => results.indexOf(r) !== i)).toEqual([]);
}
