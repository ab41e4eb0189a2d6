/**
 * Block-parallel gzip (pigz-style, notes/oci.md §3 "pgzip.ts"): the input is cut into fixed-size
 * blocks, each compressed by its own `zlib.deflateRaw` job, so several blocks are compressed at
 * once in libuv's thread pool while the caller's thread goes on packing the tar. The blocks are
 * joined into ONE gzip member, which every gzip reader (gunzip, Go, Python, containerd) accepts:
 *
 * - a fixed 10-byte header: no name, mtime 0, OS 3 (Unix) whatever the host — reproducible;
 * - per block, a raw deflate stream primed with the previous 32 KiB of input as its dictionary
 *   (so matches reach back across block boundaries, as in one stream) and ended with
 *   Z_SYNC_FLUSH (no final bit, byte-aligned), so the blocks concatenate;
 * - blocks whose content does not compress are written as stored blocks (see
 *   `storeIncompressible`), which costs a copy instead of a futile deflate;
 * - the empty final block `03 00`, then CRC32 and ISIZE (mod 2^32), little-endian.
 *
 * The output depends only on the input bytes and the options (level, block size, store
 * incompressible) — never on how the input is chunked, nor on which job finishes first: blocks
 * are cut at fixed offsets and written strictly in input order. It does depend on Node's
 * bundled zlib (as createGzip does).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

/** Options of {@link BlockGzip}. */
export interface BlockGzipOptions {
  /** Deflate level 1–9. */
  level: number;
  /** Input bytes per block (default 1 MiB); part of what the output depends on. */
  blockSize?: number;
  /**
   * Blocks compressed at once at most (default 3: one less than libuv's default pool of 4, so
   * the layer file's writes and the rest of the process's fs calls are not queued behind
   * deflate jobs; 4 measured no faster on 2 cores). Does not change the output.
   */
  inFlight?: number;
  /**
   * Store blocks that do not compress (default true): the first 64 KiB of each block is
   * deflated at level 1 and, unless that shrinks it below 95 %, the whole block is written
   * uncompressed. The choice depends only on the block's bytes, so the output stays
   * deterministic; random or already compressed data (images, archives) then costs a copy.
   */
  storeIncompressible?: boolean;
}

const DEFAULT_BLOCK = 1 << 20;
const DEFAULT_IN_FLIGHT = 3;
/** Deflate's window: the most a match can reach back, so the most a dictionary can help. */
const WINDOW = 32 << 10;
const SAMPLE = 64 << 10;
const SAMPLE_RATIO = 0.95;
/** The most bytes one stored block can hold (LEN is 16 bits). */
const STORED_MAX = 0xffff;
/** Final (BFINAL=1) empty block with fixed Huffman codes: just the end-of-block code. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * The gzip header: ID1 ID2, CM 8 (deflate), no flags, MTIME 0, XFL as zlib sets it for the
 * level (4 = fastest, 2 = best), OS 3 (Unix, fixed so the bytes do not depend on the host).
 */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, 0x03]);
}

/**
 * A Transform from bytes to one gzip member, compressed block by block in parallel (see the
 * module comment). Deterministic: the same bytes and options give the same output.
 *
 * @example
 * await pipeline(createReadStream('layer.tar'), new BlockGzip({ level: 1 }), createWriteStream('layer.tar.gz'));
 */
export class BlockGzip extends Transform {
  readonly #level: number;
  readonly #blockSize: number;
  readonly #inFlight: number;
  readonly #store: boolean;
  /** Input not yet cut into a block. */
  #parts: Buffer[] = [];
  #pending = 0;
  /** The last ≤ 32 KiB of input already cut into blocks: the next block's dictionary. */
  #window: Buffer = Buffer.alloc(0);
  /** Compressed blocks in input order, oldest first; at most `inFlight`. */
  readonly #jobs: Promise<Buffer[]>[] = [];
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor(opts: BlockGzipOptions) {
    super();
    const { level, blockSize = DEFAULT_BLOCK, inFlight = DEFAULT_IN_FLIGHT, storeIncompressible = true } = opts;
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`block gzip level must be an integer 1–9, got ${level}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RangeError(`inFlight must be a positive integer, got ${inFlight}`);
    this.#level = level;
    this.#blockSize = blockSize;
    this.#inFlight = inFlight;
    this.#store = storeIncompressible;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) return cb();
    this.#parts.push(chunk);
    this.#pending += chunk.length;
    this.#cut(false).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.#finish().then(() => cb(), cb);
  }

  async #finish(): Promise<void> {
    await this.#cut(true);
    while (this.#jobs.length > 0) await this.#emitOldest();
    this.#sendHeader();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size % 2 ** 32, 4);
    this.push(Buffer.concat([FINAL_BLOCK, trailer]));
  }

  /** Cuts full blocks (and, at the end, the last partial one), waiting while `inFlight` are busy. */
  async #cut(last: boolean): Promise<void> {
    while (this.#pending >= this.#blockSize || (last && this.#pending > 0)) {
      const block = this.#take(Math.min(this.#blockSize, this.#pending));
      // The CRC runs here, in input order; zlib.crc32 is fast enough (GB/s) not to need the pool.
      this.#crc = crc32(block, this.#crc);
      this.#size += block.length;
      const job = this.#compress(block, this.#window);
      // Rejections are handled when the job is awaited in order; this keeps an early one from
      // being reported as unhandled meanwhile.
      job.catch(() => undefined);
      this.#jobs.push(job);
      this.#window = block.length >= WINDOW ? block.subarray(block.length - WINDOW) : tail(Buffer.concat([this.#window, block]), WINDOW);
      while (this.#jobs.length >= this.#inFlight) await this.#emitOldest();
    }
  }

  /** Removes the first `n` pending bytes, without copying when they lie in one chunk. */
  #take(n: number): Buffer {
    const first = this.#parts[0]!;
    let block: Buffer;
    if (first.length >= n) {
      block = first.subarray(0, n);
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
    } else {
      const pieces: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const p = this.#parts[0]!;
        if (p.length <= need) {
          pieces.push(p);
          this.#parts.shift();
          need -= p.length;
        } else {
          pieces.push(p.subarray(0, need));
          this.#parts[0] = p.subarray(need);
          need = 0;
        }
      }
      block = Buffer.concat(pieces, n);
    }
    this.#pending -= n;
    return block;
  }

  async #compress(block: Buffer, dictionary: Buffer): Promise<Buffer[]> {
    if (this.#store && !(await compresses(block.subarray(0, SAMPLE)))) return stored(block);
    const out = await deflateAsync(block, {
      level: this.#level,
      ...(dictionary.length > 0 ? { dictionary } : {}),
      finishFlush: constants.Z_SYNC_FLUSH,
      // One output buffer big enough for the whole block: each full output buffer is a round
      // trip to this thread, which is busy packing the tar.
      chunkSize: deflateBound(block.length),
    });
    return [out];
  }

  async #emitOldest(): Promise<void> {
    const out = await this.#jobs[0]!;
    void this.#jobs.shift(); // the job just awaited
    this.#sendHeader();
    for (const b of out) this.push(b);
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(gzipHeader(this.#level));
  }
}

function tail(buf: Buffer, n: number): Buffer {
  return buf.length > n ? buf.subarray(buf.length - n) : buf;
}

function deflateAsync(input: Buffer, opts: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(input, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Whether `sample` shrinks below SAMPLE_RATIO at level 1 (a cheap stand-in for the whole block). */
async function compresses(sample: Buffer): Promise<boolean> {
  const out = await deflateAsync(sample, { level: 1, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: deflateBound(sample.length) });
  return out.length < sample.length * SAMPLE_RATIO;
}

/**
 * `block` as stored (uncompressed) deflate blocks of ≤ 65535 bytes, none final. The previous
 * block ended byte-aligned (sync flush or stored), so each header is one byte (BFINAL 0, BTYPE
 * 00, padding) then LEN and its complement NLEN, little-endian. Built here rather than by zlib
 * at level 0: it is only framing around the input's own bytes, one copy, no pool job.
 */
function stored(block: Buffer): Buffer[] {
  const pieces = Math.ceil(block.length / STORED_MAX);
  const out = Buffer.allocUnsafe(block.length + 5 * pieces);
  let o = 0;
  for (let at = 0; at < block.length; at += STORED_MAX) {
    const len = Math.min(STORED_MAX, block.length - at);
    out[o] = 0;
    out.writeUInt16LE(len, o + 1);
    out.writeUInt16LE(~len & 0xffff, o + 3);
    o += 5 + block.copy(out, o + 5, at, at + len);
  }
  return [out];
}

/** A safe upper bound of raw deflate output for `n` input bytes plus a sync flush (zlib's deflateBound, rounded up). */
function deflateBound(n: number): number {
  return n + (n >> 12) + (n >> 14) + (n >> 25) + 64;
}
