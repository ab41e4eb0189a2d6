/**
 * Text that goes into the chart's SVG. State names, guards and descriptions come from machine
 * code and saga data, so every string is treated as untrusted: markup characters become
 * entities, and characters XML 1.0 forbids (NUL, most C0 controls, lone surrogates, U+FFFE/F)
 * become U+FFFD, so the document stays well-formed whatever the machine says.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** For element content and attribute values alike (quotes are escaped too). */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A token safe in an `id` / `url(#…)` reference: letters, digits, `-`, `_`. */
export function idToken(text: string): string {
  const t = text.replace(/[^A-Za-z0-9_-]/g, '_');
  return /^[A-Za-z_]/.test(t) ? t : `_${t}`;
}
