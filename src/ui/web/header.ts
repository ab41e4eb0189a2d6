/** The header's status line: mode, namespace, whether a coordinator answers, the live feed. */
import type { UiInfo } from '../api-types.js';
import { fill, h } from './dom.js';
import type { StreamState } from './stream.js';

export class HeaderView {
  private info: UiInfo | null = null;
  private stream: StreamState | 'off' = 'off';
  private serverDown = false;
  private unauthorized = false;

  constructor(private readonly root: HTMLElement) {}

  setInfo(info: UiInfo): void {
    this.info = info;
    this.serverDown = false;
    this.render();
  }

  setStream(state: StreamState | 'off'): void {
    this.stream = state;
    this.render();
  }

  setUnauthorized(): void {
    this.unauthorized = true;
    this.render();
  }

  /** The page's own server stopped answering (not the coordinator behind it). */
  setServerDown(down: boolean): void {
    this.serverDown = down;
    this.render();
  }

  private render(): void {
    const info = this.info;
    if (this.unauthorized) {
      fill(this.root, h('span', { class: 'badge warn', id: 'unauthorized' }, 'not authorised'));
      return;
    }
    if (info === null) {
      fill(this.root, h('span', { class: 'badge' }, 'connecting…'));
      return;
    }
    const reachable = info.mode === 'offline' ? null : info.coordinatorReachable;
    fill(
      this.root,
      h('span', { class: `badge mode-${info.mode}`, id: 'mode', 'data-mode': info.mode, title: info.natsUrl ?? 'no NATS' }, `${info.mode} mode`),
      h('span', { class: 'ns', title: 'namespace' }, info.namespace),
      reachable === null
        ? null
        : h(
            'span',
            { id: 'coordinator', class: `badge ${reachable ? 'ok' : 'warn'}`, 'data-reachable': String(reachable) },
            reachable ? 'coordinator reachable' : 'coordinator unreachable',
          ),
      this.serverDown ? h('span', { class: 'badge warn', id: 'server-down' }, 'server not answering') : null,
      this.stream === 'off' ? null : h('span', { class: `badge stream-${this.stream}`, id: 'stream-state' }, this.stream === 'open' ? 'updates on' : `updates ${this.stream}…`),
      h('span', { class: 'version' }, `v${info.version}`),
    );
  }
}
