/**
 * Turns the server's chart markup into SVG nodes. renderSvg escapes every text it writes,
 * but the page still parses it as XML (not HTML) and drops anything that could run code or
 * load something — scripts, foreign objects, event attributes, links other than `#fragment`
 * — so a chart can only ever draw. Its <style> goes too: the page's stylesheet styles charts,
 * and the page's CSP would refuse an inline one anyway.
 */
const DROP = new Set(['script', 'foreignObject', 'style', 'iframe', 'image', 'a', 'use']);

/** Cut before parsing: Chromium applies the page's CSP even to a parsed, never-shown document. */
const STYLE_ELEMENT = /<style[\s>][\s\S]*?<\/style>/g;

export function parseSvg(markup: string): SVGSVGElement {
  const doc = new DOMParser().parseFromString(markup.replace(STYLE_ELEMENT, ''), 'image/svg+xml');
  const root = doc.documentElement;
  if (root.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length > 0) throw new Error('the chart is not well-formed SVG');
  for (const el of [...root.querySelectorAll('*')]) {
    if (DROP.has(el.localName)) {
      el.remove();
      continue;
    }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      const link = name === 'href' || name.endsWith(':href');
      if (name.startsWith('on') || (link && !attr.value.startsWith('#'))) el.removeAttribute(attr.name);
    }
  }
  return document.importNode(root, true) as unknown as SVGSVGElement;
}
