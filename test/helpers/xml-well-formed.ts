/**
 * A small XML well-formedness check for generated SVG (Node has no DOMParser): balanced tags,
 * one root, quoted and unique attributes, no raw `<` or stray `&` in text or values, only
 * characters XML 1.0 allows. Returns the elements with their decoded attributes and text so a
 * test can query them like a very small DOM.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** Decoded text directly inside the element (children's text excluded). */
  text: string;
  readonly parent: XmlElement | null;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*$/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/;
// eslint-disable-next-line no-control-regex -- checking for them is the point
const BAD_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function parseXml(xml: string): XmlElement[] {
  if (BAD_CHAR.test(xml)) throw new Error('character not allowed in XML');
  const elements: XmlElement[] = [];
  const open: XmlElement[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chunk = xml.slice(i, lt === -1 ? xml.length : lt);
    const decoded = decode(chunk, `text at ${i}`);
    if (open.length > 0) open.at(-1)!.text += decoded;
    else if (chunk.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt === -1) break;
    if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt);
      if (end === -1 || elements.length > 0) throw new Error('bad processing instruction');
      i = end + 2;
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end === -1) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    const gt = findTagEnd(xml, lt);
    const body = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (body.startsWith('/')) {
      const name = body.slice(1).trim();
      const top = open.pop();
      if (!top || top.name !== name) throw new Error(`</${name}> closes <${top?.name ?? 'nothing'}>`);
      continue;
    }
    const selfClosing = body.endsWith('/');
    const { name, attrs } = parseTag(selfClosing ? body.slice(0, -1) : body);
    if (open.length === 0 && roots++ > 0) throw new Error('more than one root element');
    const el: XmlElement = { name, attrs, text: '', parent: open.at(-1) ?? null };
    elements.push(el);
    if (!selfClosing) open.push(el);
  }
  if (open.length > 0) throw new Error(`<${open.at(-1)!.name}> is not closed`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}

/** The `>` that ends the tag opened at `lt`, skipping quoted attribute values. */
function findTagEnd(xml: string, lt: number): number {
  let quote: string | null = null;
  for (let j = lt + 1; j < xml.length; j++) {
    const c = xml[j]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '<') throw new Error(`raw < in an attribute value at ${j}`);
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '<') throw new Error(`raw < inside a tag at ${j}`);
    else if (c === '>') return j;
  }
  throw new Error(`unterminated tag at ${lt}`);
}

function parseTag(body: string): { name: string; attrs: Record<string, string> } {
  const m = /^([^\s]+)\s*([\s\S]*)$/.exec(body);
  if (!m || !NAME.test(m[1]!)) throw new Error(`bad tag name in <${body}>`);
  const attrs: Record<string, string> = {};
  let rest = m[2]!;
  while (rest.trim() !== '') {
    const a = /^\s*([^\s=]+)\s*=\s*("([^"]*)"|'([^']*)')/.exec(rest);
    if (!a || !NAME.test(a[1]!)) throw new Error(`bad attribute in <${m[1]}>: ${rest.slice(0, 40)}`);
    if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} in <${m[1]}>`);
    attrs[a[1]!] = decode(a[3] ?? a[4]!, `attribute ${a[1]}`);
    rest = rest.slice(a[0].length);
    if (rest !== '' && !/^\s/.test(rest)) throw new Error(`attributes of <${m[1]}> not separated`);
  }
  return { name: m[1]!, attrs };
}

function decode(raw: string, where: string): string {
  let out = '';
  for (let j = 0; j < raw.length; j++) {
    const c = raw[j]!;
    if (c !== '&') {
      out += c;
      continue;
    }
    const m = ENTITY.exec(raw.slice(j));
    if (!m) throw new Error(`stray & in ${where}`);
    const e = m[0].slice(1, -1);
    out += e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    j += m[0].length - 1;
  }
  return out;
}
