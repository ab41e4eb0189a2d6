/**
 * Splits a child's output into lines as it arrives, with bounded memory: a line longer than
 * the limit keeps its head and says how much was cut, so a build that prints a 50 MB line
 * (a minified bundle, a binary cat by mistake) costs a few KiB, not 50 MB.
 */
import { StringDecoder } from 'node:string_decoder';

/** The longest line passed on, in characters, unless told otherwise. */
export const DEFAULT_MAX_LINE_CHARS = 4096;

/** Feeds chunks in, calls `emit` once per complete line (without its `\n` or `\r\n`). */
export class LineSplitter {
  // A StringDecoder keeps a multi-byte character split across two chunks whole.
  private readonly decoder = new StringDecoder('utf8');
  private current = '';
  private cut = 0;

  constructor(
    private readonly emit: (text: string) => void,
    private readonly maxChars: number = DEFAULT_MAX_LINE_CHARS,
  ) {}

  push(chunk: Buffer): void {
    this.take(this.decoder.write(chunk));
  }

  /** Flushes a last line that had no newline. */
  end(): void {
    this.take(this.decoder.end());
    if (this.current !== '' || this.cut > 0) this.flush();
  }

  private take(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      this.append(text.slice(start, nl < 0 ? text.length : nl));
      if (nl < 0) return;
      this.flush();
      start = nl + 1;
    }
  }

  private append(part: string): void {
    // One char of headroom keeps a trailing \r of a CRLF line that is exactly at the limit.
    const room = this.maxChars + 1 - this.current.length;
    if (part.length <= room) this.current += part;
    else {
      this.current += part.slice(0, Math.max(0, room));
      this.cut += part.length - Math.max(0, room);
    }
  }

  private flush(): void {
    let line = this.current.endsWith('\r') ? this.current.slice(0, -1) : this.current;
    let cut = this.cut;
    if (line.length > this.maxChars) {
      cut += line.length - this.maxChars;
      line = line.slice(0, this.maxChars);
    }
    this.current = '';
    this.cut = 0;
    this.emit(cut > 0 ? `${line} … [${cut} more characters cut]` : line);
  }
}
