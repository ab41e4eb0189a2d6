export * from './backoff.js';
export * from './tags.js';
export * from './define-saga.js';
export * from './step-actor.js';
export * from './child-step.js';
