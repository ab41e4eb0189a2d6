/**
 * docker-compose.yml is for users with a Docker engine (none runs here): it is validated, not
 * run. The coordinator's settings go through the same config loader `jetsaga serve` uses. The
 * `cluster` profile (issue 11, part 5) is checked for what makes it a cluster: three routed
 * JetStream nodes, two coordinators on all three with R3, health checks, named volumes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Service {
  image?: string;
  profiles?: string[];
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}

// Compose resolves `<<: *anchor` merge keys (YAML 1.1); so does this parse.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };

describe('docker-compose.yml', () => {
  it('has nats with JetStream, a registry and the coordinator by default (no profile)', () => {
    const byDefault = Object.entries(compose.services).filter(([, s]) => !s.profiles?.length).map(([n]) => n);
    expect(byDefault.sort()).toEqual(['coordinator', 'nats', 'registry']);
    expect(compose.services.nats!.command).toContain('-js');
    expect(compose.services.registry!.image).toMatch(/^registry:2/);
    expect(compose.services.coordinator!.build).toBe('.');
    expect(compose.services.coordinator!.command).toEqual(['serve']);
  });

  it('publishes ports on loopback only', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const p of svc.ports ?? []) expect(p, `${name} port ${p}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it("gives the coordinator settings its config loader accepts, pointing at the compose services", () => {
    const env = compose.services.coordinator!.environment!;
    const config = loadConfig({}, env);
    expect(config.nats.url).toBe('nats://nats:4222');
    expect(config.registry.address).toBe('registry:5000');
    expect(config.owner).toBe('coordinator-1');
    expect(config.dataDir).toBe('/var/lib/jetsaga');
    expect(compose.services.coordinator!.depends_on).toMatchObject({ nats: { condition: 'service_healthy' } });
  });

  it('declares every named volume it mounts', () => {
    for (const svc of Object.values(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const name = v.split(':')[0]!;
        if (!name.startsWith('.') && !name.startsWith('/')) expect(compose.volumes).toHaveProperty(name);
      }
    }
  });

  it('builds the coordinator from a Dockerfile whose entry point is the package bin', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    // node's own flags may come before the script (bin/jetsaga.js explains the one it takes)
    const entry = /ENTRYPOINT \["node", (?:"--[^"]+", )*"([^"]+)"\]/.exec(dockerfile)?.[1];
    expect(entry).toBeDefined();
    expect(`./${entry}`).toBe(pkg.bin.jetsaga);
    expect(dockerfile).toMatch(/npm run build/);
    expect(existsSync(join(root, 'src', 'cli', 'main.ts'))).toBe(true);
  });

  describe('profile cluster', () => {
    const nodes = ['nats-1', 'nats-2', 'nats-3'];
    const coordinators = ['coordinator-a', 'coordinator-b'];
    const svc = (name: string): Service => compose.services[name]!;
    const flag = (cmd: readonly string[], name: string): string | undefined => {
      const i = cmd.indexOf(name);
      return i < 0 ? undefined : cmd[i + 1];
    };

    it('holds three NATS 2.9 nodes and two coordinators, and nothing else', () => {
      const inProfile = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster')).map(([n]) => n);
      expect(inProfile.sort()).toEqual([...coordinators, ...nodes].sort());
    });

    it('routes the three nodes to each other as one JetStream cluster with their own names and stores', () => {
      const names = new Set<string>();
      for (const n of nodes) {
        const { image, command = [], volumes = [] } = svc(n);
        expect(image, n).toMatch(/^nats:2\.9(\.\d+)?(-alpine)?$/);
        expect(command, n).toContain('-js');
        names.add(flag(command, '--name')!);
        expect(flag(command, '--cluster_name'), n).toBe('jetsaga');
        expect(flag(command, '--cluster'), n).toMatch(/:6222$/);
        const routes = flag(command, '--routes')!.split(',');
        expect(routes.sort(), n).toEqual(nodes.map((m) => `nats://${m}:6222`));
        expect(flag(command, '-m'), n).toBe('8222');
        const store = flag(command, '-sd')!;
        expect(volumes.some((v) => v.endsWith(`:${store}`) && v.startsWith(`${n}-data:`)), n).toBe(true);
      }
      expect([...names].sort()).toEqual(nodes);
    });

    it('publishes each node on its own loopback ports', () => {
      const published = nodes.flatMap((n) => svc(n).ports ?? []);
      expect(published).toHaveLength(6);
      for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:\d+:(4222|8222)$/);
      expect(new Set(published.map((p) => p.split(':')[1])).size).toBe(6);
    });

    it('checks every node’s health on its monitoring port (/healthz)', () => {
      for (const n of nodes) {
        const test = svc(n).healthcheck?.test ?? [];
        expect(test[0], n).toBe('CMD');
        expect(test.join(' '), n).toMatch(/http:\/\/127\.0\.0\.1:8222\/healthz/);
      }
    });

    it('runs both coordinators on all three nodes with three replicas, after the nodes are healthy', () => {
      for (const c of coordinators) {
        const s = svc(c);
        expect(s.build, c).toBe('.');
        const command = s.command ?? [];
        expect(command[0], c).toBe('serve');
        const urls = flag(command, '--nats')!.split(',');
        expect(urls.sort(), c).toEqual(nodes.map((n) => `nats://${n}:4222`));
        expect(flag(command, '--replicas'), c).toBe('3');
        for (const n of nodes) expect(s.depends_on?.[n], `${c} on ${n}`).toEqual({ condition: 'service_healthy' });
        // The settings load as `jetsaga serve` would load them (flags beside the environment).
        const config = loadConfig({ nats: flag(command, '--nats') }, s.environment ?? {});
        expect(config.owner).toBe(c);
        expect(config.nats.url).toBe(urls.join(','));
        expect(config.retainMs).toBe(7 * 86_400_000);
      }
      expect(new Set(coordinators.map((c) => svc(c).environment?.JETSAGA_OWNER)).size).toBe(2);
    });

    it('checks each coordinator’s health with `jetsaga boot status` for that coordinator', () => {
      for (const c of coordinators) {
        const test = svc(c).healthcheck?.test ?? [];
        expect(test.slice(0, 5), c).toEqual(['CMD', 'node', 'bin/jetsaga.js', 'boot', 'status']);
        expect(flag(test, '--coordinator'), c).toBe(c);
        expect(flag(test, '--nats'), c).toBe(flag(svc(c).command ?? [], '--nats'));
      }
    });

    it('keeps every node’s and coordinator’s data in a named volume of its own', () => {
      const mounted = [...nodes, ...coordinators].map((n) => (svc(n).volumes ?? [])[0]?.split(':')[0]);
      expect(mounted).toEqual([...nodes, ...coordinators].map((n) => `${n}-data`));
      for (const v of mounted) expect(compose.volumes).toHaveProperty(v!);
    });
  });
});
