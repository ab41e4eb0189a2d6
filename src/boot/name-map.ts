/**
 * Host names jetsaga resolves itself, e.g. `cluster.local` → the registry's address. The map is
 * applied through the `lookup` of the HTTP clients that talk to the registry (node:http agents,
 * undici's `connect.lookup`), never by editing /etc/hosts or system DNS: the URL keeps the
 * name, so the Host header and the registry's `Location` answers keep working (notes/oci.md §7).
 */
import { lookup as systemLookup, type LookupAddress, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export class NameMap {
  private readonly entries = new Map<string, string>();

  /** Maps `name` (and every name under it, e.g. `registry.cluster.local`) to an IP address. */
  set(name: string, address: string): void {
    if (!isIP(address)) throw new Error(`name mapping for "${name}" needs an IP address, got "${address}"`);
    this.entries.set(name.toLowerCase(), address);
  }

  /** The mapped address of `hostname`, or undefined when the system resolves it. */
  resolve(hostname: string): string | undefined {
    const host = hostname.toLowerCase();
    for (const [name, address] of this.entries) if (host === name || host.endsWith(`.${name}`)) return address;
    return undefined;
  }

  mappings(): Record<string, string> {
    return Object.fromEntries(this.entries);
  }

  /** A drop-in for `dns.lookup` in `http.Agent({ lookup })` and undici's `connect.lookup`. */
  readonly lookup = (hostname: string, options: LookupOneOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback)!;
    const opts = typeof options === 'object' ? (options as LookupOneOptions & { all?: boolean }) : {};
    const mapped = this.resolve(hostname);
    if (mapped === undefined) {
      systemLookup(hostname, opts as never, cb as never);
      return;
    }
    const family = isIP(mapped);
    if (opts.all) process.nextTick(cb, null, [{ address: mapped, family }]);
    else process.nextTick(cb, null, mapped, family);
  };
}
