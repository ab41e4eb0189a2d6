/**
 * A kit saga's compensation plan: the undos in the order they would (or do) run, each with
 * its status and attempts; a failed undo shows its error, and while the saga is blocked the
 * operator's choices are buttons (the caller confirms and sends them).
 */
import type { CompensationPlan, OperatorAction } from '../../viz/compensation-plan.js';
import { h } from './dom.js';
import { short } from './format.js';

const ACTION_LABEL: Record<OperatorAction, string> = { retry: 'Retry', skip: 'Skip', abandon: 'Abandon' };
const ACTION_HINT: Record<OperatorAction, string> = {
  retry: 'run the failed undo again (its attempts start over)',
  skip: 'give up that undo (fixed by hand) and undo the rest',
  abandon: 'stop compensating and leave the rest undone',
};

export function planPanel(plan: CompensationPlan | null, onAction: ((action: OperatorAction) => void) | null): HTMLElement {
  const section = h('section', { class: 'plan', id: 'plan', 'aria-label': 'Compensation plan' }, h('h3', {}, 'Compensation plan'));
  if (plan === null) {
    section.append(h('p', { class: 'muted' }, 'Not a kit saga: no compensation plan.'));
    return section;
  }
  section.dataset.phase = plan.phase;
  const heading = plan.phase === 'running' ? 'If it failed now, these undos would run, in this order:' : `Phase: ${plan.phase}`;
  section.append(h('p', {}, heading));
  // A cancel is no step's failure: its cause names no step.
  if (plan.cause) section.append(h('p', { class: 'cause' }, `Caused by ${plan.cause.step ? `${plan.cause.step}: ` : ''}${plan.cause.code} — ${plan.cause.message}`));
  if (plan.undos.length === 0) section.append(h('p', { class: 'muted' }, 'Nothing to undo.'));
  else {
    section.append(
      h(
        'ol',
        { class: 'undos' },
        ...plan.undos.map((u) =>
          h(
            'li',
            { class: `undo undo-${u.status}`, 'data-step': u.step, 'data-status': u.status },
            h('span', { class: 'undo-name' }, u.undo),
            h('span', { class: `badge undo-status-${u.status}` }, u.status),
            u.attempts > 0 ? h('span', { class: 'attempts' }, `${u.attempts} failed attempt${u.attempts === 1 ? '' : 's'}`) : null,
            u.error ? h('div', { class: 'undo-error', role: u.status === 'failed' ? 'alert' : null }, `${u.error.code}: ${u.error.message}`) : null,
            u.input ? h('div', { class: 'undo-input', title: short(u.input, 2000) }, `input ${short(u.input, 90)}`) : null,
          ),
        ),
      ),
    );
  }
  if (plan.actions.length > 0 && onAction === null) {
    section.append(h('p', { class: 'muted' }, `An operator could ${plan.actions.join(', ')} on a live coordinator.`));
  } else if (plan.actions.length > 0) {
    section.append(
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Operator actions' },
        ...plan.actions.map((a) =>
          h('button', { type: 'button', class: `action action-${a}`, 'data-action': a, title: ACTION_HINT[a], onclick: () => onAction?.(a) }, ACTION_LABEL[a]),
        ),
      ),
    );
  }
  return section;
}
