/**
 * Where a shown saga comes from: the live service, or a bundle opened from a file (offline,
 * read-only). Both answer the same shapes under different routes.
 */
export type SagaSource =
  | { readonly kind: 'live'; readonly id: string }
  | { readonly kind: 'bundle'; readonly bundleId: string; readonly id: string; readonly file: string };

const enc = encodeURIComponent;

export function basePath(source: SagaSource): string {
  return source.kind === 'live' ? `/api/sagas/${enc(source.id)}` : `/api/bundles/${enc(source.bundleId)}`;
}

export const detailPath = (s: SagaSource): string => basePath(s);
export const timelinePath = (s: SagaSource): string => `${basePath(s)}/timeline`;
export const atPath = (s: SagaSource, no: number): string => `${basePath(s)}/at/${no}`;

export function sameSource(a: SagaSource | null, b: SagaSource | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.kind === 'live' && b.kind === 'live') return a.id === b.id;
  if (a.kind === 'bundle' && b.kind === 'bundle') return a.bundleId === b.bundleId;
  return false;
}
