/**
 * The saga list's order: newest first, and each child saga right under its parent (nested as
 * deep as sagas nest), so a build and the sagas it started read as one group. A child whose
 * parent is not among the rows (filtered out, purged, or past the list's limit) stands on its own,
 * still saying whose child it is. Pure: the list view draws what this returns.
 */
import type { SagaRow } from '../api-types.js';

export interface PlacedRow {
  readonly row: SagaRow;
  /** 0 for a saga shown at the top level, 1 under its parent, 2 under its grandparent… */
  readonly depth: number;
}

const newestFirst = (a: SagaRow, b: SagaRow): number => b.createdAt - a.createdAt || a.id.localeCompare(b.id);

export function placeRows(rows: readonly SagaRow[]): PlacedRow[] {
  const ids = new Set(rows.map((r) => r.id));
  const under = new Map<string, SagaRow[]>();
  const top: SagaRow[] = [];
  for (const r of rows) {
    if (r.parentId !== null && r.parentId !== r.id && ids.has(r.parentId)) {
      let siblings = under.get(r.parentId);
      if (!siblings) under.set(r.parentId, (siblings = []));
      siblings.push(r);
    } else top.push(r);
  }
  const out: PlacedRow[] = [];
  const placed = new Set<string>();
  const place = (r: SagaRow, depth: number): void => {
    // A cycle of parent ids cannot come from a runtime; a bad row must still not hang the page.
    if (placed.has(r.id)) return;
    placed.add(r.id);
    out.push({ row: r, depth });
    for (const c of (under.get(r.id) ?? []).sort(newestFirst)) place(c, depth + 1);
  };
  for (const r of top.sort(newestFirst)) place(r, 0);
  // Rows caught in a cycle have no top-level ancestor: shown last, on their own.
  for (const r of [...rows].sort(newestFirst)) place(r, 0);
  return out;
}
