/**
 * The page: wires the views to the server. Everything shown comes from the contract's routes
 * (src/ui/api-types.ts) and the live feed; a selected saga is re-read whenever the feed says
 * it changed, and the scrubber's point is fetched from the server (re-folded there, with no
 * side effects) rather than computed here.
 */
import type { ActionReply, BootView, BundleOpened, ForkReply, MachineList, SagaAt, SagaDetail, SagaList, StreamEvent, Timeline, UiInfo } from '../api-types.js';
import type { OperatorAction } from '../../viz/compensation-plan.js';
import { Api, ApiError, UNREACHABLE } from './api.js';
import { renderBoot } from './boot-view.js';
import { setupBundleInput } from './bundle-input.js';
import { ChartView } from './chart.js';
import { renderDetails } from './details.js';
import { byId, fill, h } from './dom.js';
import { errorText } from './format.js';
import { HeaderView } from './header.js';
import { SagaListView } from './saga-list.js';
import { atPath, detailPath, sameSource, timelinePath, type SagaSource } from './source.js';
import { LiveStream, type StreamState } from './stream.js';
import { setupTabs } from './tabs.js';
import { TimelineView } from './timeline.js';

const AGE_REFRESH_MS = 10_000;
const INFO_RETRY_MS = 3_000;

export class App {
  private readonly api: Api;
  private readonly header: HeaderView;
  private readonly list: SagaListView;
  private readonly chart: ChartView;
  private readonly timeline: TimelineView;
  private readonly stream: LiveStream;
  private info: UiInfo | null = null;
  private source: SagaSource | null = null;
  private detail: SagaDetail | null = null;
  private timelineNo = 0;
  /** Bumped on every request for a point: only the newest answer is shown. */
  private pointSeq = 0;
  private unauthorized = false;

  constructor(token: string | null) {
    this.api = new Api({ token, onUnauthorized: () => this.showUnauthorized(token !== null) });
    this.header = new HeaderView(byId('status'));
    this.list = new SagaListView(byId('sagas'), (id) => void this.select({ kind: 'live', id }));
    this.chart = new ChartView(byId('chart'), this.api, (step) => this.openChild(step));
    this.timeline = new TimelineView(byId('timeline'), {
      onScrub: () => void this.showPoint(),
      onFork: (from, dryRun) => this.fork(from, dryRun),
      onOpenSaga: (id) => void this.select({ kind: 'live', id }),
    });
    this.stream = new LiveStream((saga) => this.api.streamUrl(saga), {
      onEvent: (e) => this.onStreamEvent(e),
      onState: (s) => this.onStreamState(s),
    });
    setupTabs([byId<HTMLButtonElement>('tab-sagas'), byId<HTMLButtonElement>('tab-boot')], (panel) => {
      if (panel === 'view-sagas') this.chart.fit();
    });
    setupBundleInput(byId<HTMLInputElement>('bundle-file'), (text, name) => void this.openBundle(text, name));
    this.renderDetail();
    renderBoot(byId('view-boot'), null, (id) => this.openFromBoot(id));
    if (token === null) this.showUnauthorized(false);
  }

  async start(): Promise<void> {
    if (this.unauthorized) return;
    const info = await this.loadInfo();
    if (info === null) return;
    try {
      const machines = await this.api.get<MachineList>('/api/machines');
      this.chart.setMachines(machines.machines);
      this.list.setMachines(machines.machines.map((m) => m.id));
    } catch (e) {
      this.notice(`Machines unavailable: ${errorText(e)}`, true);
    }
    if (info.mode === 'offline') {
      fill(byId('sagas'), h('h2', {}, 'Sagas'), h('p', { class: 'muted', id: 'offline-note' }, 'Offline: no coordinator. Open a saga bundle (jetsaga sagas export) to inspect it.'));
      return;
    }
    await Promise.all([
      this.api.get<SagaList>('/api/sagas').then((l) => this.list.setSagas(l.sagas), (e) => this.notice(`Saga list unavailable: ${errorText(e)}`, true)),
      this.api.get<BootView>('/api/boot').then((b) => this.renderBootView(b), () => undefined),
    ]);
    this.stream.follow(null);
    setInterval(() => this.list.refreshAges(), AGE_REFRESH_MS);
  }

  /** Info, retried while the page's server does not answer (it may be restarting). */
  private async loadInfo(): Promise<UiInfo | null> {
    for (;;) {
      try {
        const info = await this.api.get<UiInfo>('/api/info');
        this.setInfo(info);
        return info;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        this.header.setServerDown(e instanceof ApiError && e.code === UNREACHABLE);
        await new Promise((r) => setTimeout(r, INFO_RETRY_MS));
      }
    }
  }

  private setInfo(info: UiInfo): void {
    this.info = info;
    this.header.setInfo(info);
  }

  private onStreamEvent(e: StreamEvent): void {
    switch (e.type) {
      case 'sagas':
        this.list.setSagas(e.sagas);
        break;
      case 'saga':
        if (this.source?.kind === 'live' && e.saga.id === this.source.id) this.applyDetail(e.saga);
        break;
      case 'boot':
        this.renderBootView(e.boot);
        break;
      case 'info':
        this.setInfo(e.info);
        break;
      case 'heartbeat':
        break;
    }
  }

  private onStreamState(state: StreamState): void {
    this.header.setStream(state);
    if (state === 'open') this.header.setServerDown(false);
    // A broken feed may be a stopped server or a token it no longer takes: ask once.
    if (state === 'reconnecting') {
      this.api.get<UiInfo>('/api/info').then(
        (info) => this.setInfo(info),
        (e: unknown) => {
          if (e instanceof ApiError && e.status === 401) this.stream.close();
          else this.header.setServerDown(true);
        },
      );
    }
  }

  private async select(source: SagaSource): Promise<void> {
    if (sameSource(source, this.source) && this.detail) return;
    this.source = source;
    this.detail = null;
    this.timelineNo = 0;
    this.list.setSelected(source.kind === 'live' ? source.id : null);
    this.timeline.setTimeline(null);
    this.chart.setOpenable(null, []);
    this.chart.requestFocus();
    this.renderDetail();
    if (source.kind === 'live') this.stream.follow(source.id);
    try {
      const detail = await this.api.get<SagaDetail>(detailPath(source));
      if (this.source !== source) return;
      this.applyDetail(detail);
    } catch (e) {
      if (this.source === source) this.notice(`Saga ${source.id}: ${errorText(e)}`, true);
    }
  }

  private applyDetail(detail: SagaDetail): void {
    const source = this.source;
    if (!source) return;
    // A detail read before the feed brought a newer one may answer after it (e.g. the read
    // after an action): it must not put the page back to an earlier entry.
    if (this.detail?.id === detail.id && detail.entryNo < this.detail.entryNo) return;
    this.detail = detail;
    this.renderDetail();
    void this.chart.show(detail.machine);
    this.chart.setOpenable(detail.machine, detail.children.map((c) => c.step));
    if (this.timeline.isLive()) this.chart.setHighlight(detail.active, detail.visited);
    if (detail.entryNo !== this.timelineNo) {
      // Noted now: the list and the feed may both bring this entry before the timeline arrives.
      this.timelineNo = detail.entryNo;
      void this.loadTimeline(source);
    }
  }

  private async loadTimeline(source: SagaSource): Promise<void> {
    let tl: Timeline;
    try {
      tl = await this.api.get<Timeline>(timelinePath(source));
    } catch (e) {
      if (this.source === source) this.notice(`Timeline of ${source.id}: ${errorText(e)}`, true);
      return;
    }
    if (this.source !== source) return;
    this.timeline.setTimeline(tl, source.kind === 'live');
    await this.showPoint();
  }

  /** The saga at the scrubber's entry: chart highlight, state, context and its diff. */
  private async showPoint(): Promise<void> {
    const source = this.source;
    const no = this.timeline.current();
    if (!source || no === null) return;
    const seq = ++this.pointSeq;
    let at: SagaAt;
    try {
      at = await this.api.get<SagaAt>(atPath(source, no));
    } catch (e) {
      if (seq === this.pointSeq) this.notice(`Entry ${no} of ${source.id}: ${errorText(e)}`, true);
      return;
    }
    if (seq !== this.pointSeq || this.source !== source) return;
    this.chart.setHighlight(at.active, at.visited);
    this.timeline.showAt(at);
  }

  private renderDetail(): void {
    const source = this.source;
    const live = source?.kind === 'live';
    const origin = source?.kind === 'bundle' ? `From bundle ${source.file} (offline, read-only)` : null;
    renderDetails(byId('details'), this.detail, origin, {
      onAction: live ? (a) => void this.act(a) : null,
      onOpenSaga: (id) => void this.select({ kind: 'live', id }),
    });
    const banner = byId('bundle-banner');
    banner.hidden = source?.kind !== 'bundle';
    if (source?.kind === 'bundle') {
      fill(banner, `Bundle ${source.file}: saga ${source.id}, offline `, h('button', { type: 'button', id: 'bundle-close', onclick: () => this.closeBundle() }, 'Close'));
    }
  }

  /** A click on a chart state that runs a child saga: the selected saga's child of that step. */
  private openChild(step: string): void {
    const child = this.detail?.children.find((c) => c.step === step);
    if (child) void this.select({ kind: 'live', id: child.sagaId });
  }

  private async act(action: OperatorAction | 'cancel'): Promise<void> {
    const source = this.source;
    if (source?.kind !== 'live') return;
    if (!confirm(`${action} saga ${source.id}?`)) return;
    try {
      const reply = await this.api.post<ActionReply>(`${detailPath(source)}/actions/${action}`, {});
      this.notice(`${action} ${reply.accepted ? 'accepted' : 'not accepted'}: ${reply.id} is ${reply.status}`, !reply.accepted);
      const detail = await this.api.get<SagaDetail>(detailPath(source));
      if (this.source === source) this.applyDetail(detail);
    } catch (e) {
      this.notice(`${action} failed: ${errorText(e)}`, true);
    }
  }

  private fork(from: number, dryRun: boolean): Promise<ForkReply> {
    const source = this.source;
    if (source?.kind !== 'live') return Promise.reject(new Error('only a live saga can be forked'));
    return this.api.post<ForkReply>(`${detailPath(source)}/fork`, { from, dryRun });
  }

  private async openBundle(text: string, file: string): Promise<void> {
    try {
      const opened = await this.api.post<BundleOpened>('/api/bundles', text);
      const source: SagaSource = { kind: 'bundle', bundleId: opened.bundleId, id: opened.saga.id, file };
      this.source = source;
      this.timelineNo = 0;
      this.list.setSelected(null);
      this.timeline.setTimeline(null);
      this.chart.requestFocus();
      this.applyDetail(opened.saga);
      byId<HTMLButtonElement>('tab-sagas').click();
    } catch (e) {
      this.notice(`Bundle ${file} not opened: ${errorText(e)}`, true);
    }
  }

  private closeBundle(): void {
    this.source = null;
    this.detail = null;
    this.timeline.setTimeline(null);
    this.chart.setHighlight([], []);
    this.chart.setOpenable(null, []);
    this.renderDetail();
  }

  private openFromBoot(id: string): void {
    byId<HTMLButtonElement>('tab-sagas').click();
    void this.select({ kind: 'live', id });
  }

  private renderBootView(boot: BootView): void {
    renderBoot(byId('view-boot'), boot, (id) => this.openFromBoot(id));
  }

  private notice(text: string, error = false): void {
    const el = byId('notice');
    el.hidden = false;
    el.classList.toggle('error', error);
    fill(el, h('span', { id: 'notice-text' }, text), ' ', h('button', { type: 'button', class: 'link', onclick: () => (el.hidden = true) }, 'dismiss'));
  }

  private showUnauthorized(hadToken: boolean): void {
    this.unauthorized = true;
    this.stream.close();
    this.header.setUnauthorized();
    const el = byId('auth');
    el.hidden = false;
    fill(
      el,
      h('strong', {}, hadToken ? 'This link’s token is not valid.' : 'This page needs its token.'),
      ' Open the address jetsaga printed when it started the UI (it ends in ?token=…); the token keeps other local users from driving your sagas.',
    );
  }
}
