/**
 * docker-compose.yml is for users with a Docker engine (none runs here): it is validated, not
 * run. The coordinator's settings go through the same config loader `jetsaga serve` uses.
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
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };

describe('docker-compose.yml', () => {
  it('has nats with JetStream, a registry and the coordinator', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['coordinator', 'nats', 'registry']);
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
    const entry = /ENTRYPOINT \["node", "([^"]+)"\]/.exec(dockerfile)?.[1];
    expect(entry).toBeDefined();
    expect(`./${entry}`).toBe(pkg.bin.jetsaga);
    expect(dockerfile).toMatch(/npm run build/);
    expect(existsSync(join(root, 'src', 'cli', 'main.ts'))).toBe(true);
  });
});
