/**
 * Colour for people at a terminal, never for pipes, files or anyone who set NO_COLOR
 * (https://no-color.org): scripts parse the plain text and JSON.
 */
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

export interface Palette {
  readonly enabled: boolean;
  ok(text: string): string;
  fail(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function palette(enabled: boolean): Palette {
  const style = (format: Style) => (text: string): string => (enabled ? styleText(format, text) : text);
  return { enabled, ok: style('green'), fail: style('red'), warn: style('yellow'), dim: style('dim'), bold: style('bold') };
}

/** A saga status, coloured by what it means for the operator. */
export function statusText(status: string, p: Palette): string {
  switch (status) {
    case 'completed':
      return p.ok(status);
    case 'blocked':
    case 'parked':
    case 'compensated':
    case 'cancelled':
      return p.fail(status);
    case 'compensating':
      return p.warn(status);
    default:
      return status;
  }
}
