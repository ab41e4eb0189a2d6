/**
 * The chaos report: what was scheduled, what chaos was done, what the clients were told, how
 * the sagas ended, how often steps ran, and every violated invariant with its evidence. The
 * vitest test and `npm run chaos` print the same text.
 */
import type { ChaosEvent } from './chaos-log.js';
import type { Evidence } from './evidence.js';
import { INVARIANTS, type CheckResult, type InvariantNo, type Violation } from './invariants.js';
import { killPoints, type Schedule } from './schedule.js';

export interface ReportInput {
  readonly schedule: Schedule;
  readonly evidence: Evidence;
  readonly check: CheckResult;
  /** Wall-clock phases, for the reader only (nothing asserts on them). */
  readonly timing: { readonly chaosMs: number; readonly totalMs: number };
  /** Examples printed, with their evidence, per kind of violation. */
  readonly detail?: number;
}

export function formatReport(r: ReportInput): string {
  const { schedule, evidence: ev, check } = r;
  const out: string[] = [];
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const cfg = schedule.config;
  out.push(`jetsaga chaos — seed ${cfg.seed}; chaos ${s(r.timing.chaosMs)} (planned ${s(cfg.durationMs)}), settle ${s(ev.settle.waitedMs)}, total ${s(r.timing.totalMs)}; lease TTL ${cfg.leaseTtlMs} ms`);

  const acts = countBy(schedule.actions, (a) => a.kind);
  const burstSagas = schedule.actions.reduce((n, a) => n + (a.kind === 'burst' ? a.sagas.length : 0), 0);
  out.push(`schedule: ${schedule.starts.length} sagas + ${burstSagas} in bursts, ${schedule.cancels.length} cancels, ${schedule.actions.length} chaos actions (${fmt(acts)}) = ${killPoints(schedule)} kill points`);

  const chaos = ev.chaos;
  const kills = chaos.filter((e): e is Extract<ChaosEvent, { kind: 'kill' }> => e.kind === 'kill');
  out.push(`chaos done: ${fmt(countBy(chaos.filter((e) => e.kind !== 'kill'), (e) => e.kind))}, kill ${kills.length} (${fmt(countBy(kills, (k) => k.why))}); owners ${new Set(chaos.flatMap((e) => ('owner' in e ? [e.owner] : []))).size}`);

  const attempts = [...ev.starts.values()].flat();
  const ids = [...ev.starts.values()];
  const acked = ids.filter((x) => x.some((a) => a.outcome === 'ok'));
  const retried = acked.filter((x) => x.some((a) => a.outcome === 'error'));
  const late = attempts.filter((a) => a.late).length;
  const failures = countBy(attempts.filter((a) => a.outcome === 'error'), (a) => a.code ?? '?');
  out.push(`starts: ${ids.length} ids, ${acked.length} acknowledged (${retried.length} after a failed attempt, ${late} late answers), ${ids.length - acked.length} never; ${attempts.length} attempts; failed attempts: ${fmt(failures) || 'none'}`);
  out.push(`cancels: ${ev.cancels.length} sent: ${fmt(countBy(ev.cancels, (c) => (c.outcome === 'error' ? `error ${c.code}` : c.outcome)))}`);

  const ls = ev.listings;
  const lsOk = ls.filter((l) => l.outcome === 'ok');
  const slowest = Math.max(0, ...lsOk.map((l) => l.ms));
  out.push(`listings during chaos: ${ls.length}: ${fmt(countBy(ls, (l) => (l.outcome === 'error' ? `error ${l.code}` : l.outcome)))}; slowest answer ${slowest} ms; a saga shown twice in ${lsOk.filter((l) => l.twice.length > 0).length}`);
  for (const [msg, n] of Object.entries(countBy(ls.filter((l) => l.outcome === 'error'), (l) => `${l.code} ${l.message}`))) out.push(`  ${n}× list() failed: ${msg}`);

  const statuses = countBy([...ev.sagas.values()], (x) => x.info?.status ?? 'no status');
  out.push(`sagas: ${ev.sagas.size} known (acknowledged, in the index or in the journal): ${fmt(statuses)}; settle ${ev.settle.settled ? 'reached' : `not reached (${ev.settle.reason}; ${ev.settle.unsettled.length} unsettled)`}`);

  const rs = check.runStats;
  const hist = [...rs.histogram].sort(([a], [b]) => a - b).map(([n, k]) => `${n}:${k}`).join(' ');
  out.push(`step runs: ${rs.runs} runs of ${rs.keys} keys, re-runs ${rs.runs - rs.keys} (explained by chaos ${rs.explained}, unexplained ${rs.unexplained}); runs/key ${hist}; keys run > 2×: ${rs.overTwo}`);

  const journals = [...ev.sagas.values()].flatMap((x) => x.journal ?? []);
  const takeovers = journals.filter((e) => e.takeover);
  const applied = ev.runs.filter((x) => x.effect === 'applied').length;
  const already = ev.runs.filter((x) => x.effect === 'already').length;
  const takenOver = [...ev.sagas.values()].filter((x) => x.journal?.some((e) => e.takeover)).length;
  out.push(`journal: ${journals.length} entries, takeover markers ${takeovers.length} in ${takenOver} sagas; effects: ${ev.effects.size} keys in the sink (${applied} applied by a run, ${already} found already applied)`);

  const notes = ev.notes;
  const fenced = notes.filter((n) => n.msg.includes('stopping this copy')).length;
  const lapses = notes.filter((n) => n.msg.startsWith('lease had expired')).length;
  const removed = notes.filter((n) => n.msg.startsWith('voided a start')).length;
  out.push(`coordinator logs: fenced copies ${fenced}, lease lapses noticed ${lapses}, starts voided ${removed}`);
  const loud = countBy(notes.filter((n) => n.level >= 40), (n) => `${n.level >= 50 ? 'error' : 'warn'} "${n.msg}"`);
  for (const [msg, n] of Object.entries(loud).sort(([, a], [, b]) => b - a).slice(0, 10)) {
    // The distinct causes of an error, as logged.
    const errs = msg.startsWith('error') ? [...new Set(notes.filter((x) => msg.endsWith(`"${x.msg}"`) && x.err).map((x) => x.err!))].slice(0, 3) : [];
    out.push(`  ${n}× ${msg}${errs.length ? ` (${errs.join(' | ')})` : ''}`);
  }

  const byInv = new Map<InvariantNo, Violation[]>();
  for (const v of check.violations) byInv.set(v.invariant, [...(byInv.get(v.invariant) ?? []), v]);
  const all: InvariantNo[] = [1, 2, 3, 4, 5, 6];
  out.push(`invariants: ${all.map((k) => `${k} ${byInv.has(k) ? `✗${byInv.get(k)!.length}` : '✓'}`).join('  ')}`);
  // Violations of one invariant are grouped by what they say (ids and numbers aside), so every
  // kind of failure shows with its sagas, and a few of each with their evidence.
  const detail = r.detail ?? 2;
  for (const [inv, vs] of [...byInv].sort(([a], [b]) => a - b)) {
    out.push(`✗ ${inv} ${INVARIANTS[inv]}: ${vs.length} violation(s)`);
    const kinds = new Map<string, Violation[]>();
    for (const v of vs) kinds.set(kindOf(v.message), [...(kinds.get(kindOf(v.message)) ?? []), v]);
    for (const [kind, group] of kinds) {
      const ids = group.map((v) => v.key ?? v.sagaId ?? '-');
      out.push(`  ${group.length}× ${kind}: ${ids.slice(0, 24).join(' ')}${ids.length > 24 ? ' …' : ''}`);
      for (const v of group.slice(0, detail)) {
        out.push(`  - ${[v.sagaId, v.key].filter(Boolean).join(' ')}${v.sagaId || v.key ? ': ' : ''}${v.message}`);
        for (const [k, val] of Object.entries(v.evidence ?? {})) {
          if (val === undefined) continue;
          if (Array.isArray(val)) {
            out.push(`      ${k}:`);
            for (const item of val) out.push(`        ${typeof item === 'string' ? item : JSON.stringify(item)}`);
          } else out.push(`      ${k}: ${JSON.stringify(val)}`);
        }
      }
    }
  }
  if (!ev.settle.settled) out.push(`unsettled: ${ev.settle.unsettled.slice(0, 20).map((u) => `${u.id}=${u.status}`).join(' ')}`);
  out.push(check.violations.length === 0 ? 'verdict: all invariants hold' : `verdict: ${check.violations.length} violation(s) of invariant(s) ${[...byInv.keys()].sort().join(', ')}`);
  return out.join('\n');
}

/** A violation's message with its ids and numbers blanked: what kind of failure it is. */
function kindOf(message: string): string {
  return message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N');
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
