/**
 * The page's token: read once from the address (`?token=…`, as jetsaga printed it), kept in
 * memory only, and dropped from the address bar so it does not linger in history or get
 * copied with the URL.
 */
export function takeToken(): string | null {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  if (token === null) return null;
  params.delete('token');
  const query = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
  return token.length > 0 ? token : null;
}
