/** The saga list's order with nested sagas (src/ui/web/saga-tree.ts, pure). */
import { describe, expect, it } from 'vitest';
import type { SagaRow } from '../../src/ui/api-types.js';
import { placeRows } from '../../src/ui/web/saga-tree.js';

const row = (id: string, createdAt: number, parentId: string | null = null): SagaRow => ({
  id,
  machine: parentId === null ? 'build' : 'postgres-addon',
  version: 1,
  status: 'running',
  owner: 'c1',
  createdAt,
  updatedAt: createdAt,
  parentId,
});

const placed = (rows: SagaRow[]): Array<[string, number]> => placeRows(rows).map((p) => [p.row.id, p.depth]);

describe('the saga list order', () => {
  it('is newest first when no saga is a child', () => {
    expect(placed([row('a', 1), row('c', 3), row('b', 3)])).toEqual([
      ['b', 0],
      ['c', 0],
      ['a', 0],
    ]);
  });

  it('puts each child right under its parent, newest first, nested as deep as the sagas are', () => {
    // Children are created after their parents: newest first alone would put them above.
    const rows = [row('build-1', 1), row('build-2', 2), row('build-1-addons', 5, 'build-1'), row('build-1-more', 6, 'build-1'), row('grandchild', 7, 'build-1-addons')];
    expect(placed(rows)).toEqual([
      ['build-2', 0],
      ['build-1', 0],
      ['build-1-more', 1],
      ['build-1-addons', 1],
      ['grandchild', 2],
    ]);
  });

  it('keeps a child whose parent is not listed at the top level, in its place by age', () => {
    expect(placed([row('x', 1), row('orphan', 2, 'purged-parent'), row('y', 3)])).toEqual([
      ['y', 0],
      ['orphan', 0],
      ['x', 0],
    ]);
  });

  it('shows every row once even when parent ids make a cycle (which no runtime writes)', () => {
    const out = placed([row('p', 1, 'q'), row('q', 2, 'p'), row('s', 3, 's')]);
    expect(out.map(([id]) => id).sort()).toEqual(['p', 'q', 's']);
    expect(out).toContainEqual(['s', 0]);
  });
});
