/**
 * Checks of command-line values that need no coordinator: a bad value is a usage error (exit 2)
 * before any connection, whether or not NATS is up.
 */
import { InvalidArgumentError } from 'commander';
import { APP_NAME_PATTERN } from '../entities/names.js';

export function appName(value: string): string {
  if (!APP_NAME_PATTERN.test(value)) throw new InvalidArgumentError(`"${value}" is not an app name: lower-case letters, digits and "-", at most 63, starting with a letter or digit`);
  return value;
}
