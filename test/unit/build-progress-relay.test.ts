import { describe, expect, it } from 'vitest';
import { describeState } from '../../src/build/progress-relay.js';
import { repositoryPath, sandboxIdOf } from '../../src/build/version-runner.js';

describe('describeState', () => {
  it('names every active leaf of a parallel state', () => {
    expect(describeState('allocate')).toBe('allocate');
    expect(describeState({ prepare: { image: { push: 'await_registry' }, config: { settings: 'running' } } })).toBe(
      'prepare.image.push.await_registry, prepare.config.settings.running',
    );
  });
});

describe('image references', () => {
  it('strips the registry host of a repository, and only a host', () => {
    expect(repositoryPath('cluster.local:5000/apps/shop')).toBe('apps/shop');
    expect(repositoryPath('localhost/apps/shop')).toBe('apps/shop');
    expect(repositoryPath('apps/shop')).toBe('apps/shop');
  });
  it('names one sandbox per version', () => {
    expect(sandboxIdOf('shop', 3)).toBe('shop-v3');
  });
});

describe('parseImageRef', () => {
  it('splits repository and tag or digest; no tag is latest', async () => {
    const { parseImageRef } = await import('../../src/build/build-steps.js');
    expect(parseImageRef('library/node:20')).toEqual({ repository: 'library/node', reference: '20' });
    expect(parseImageRef('library/node')).toEqual({ repository: 'library/node', reference: 'latest' });
    expect(parseImageRef(`base@sha256:${'b'.repeat(64)}`)).toEqual({ repository: 'base', reference: `sha256:${'b'.repeat(64)}` });
  });
});
