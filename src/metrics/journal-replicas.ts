/**
 * The journal stream's replicas as JetStream reports them: on a cluster (R3) each follower's
 * lag behind the leader, in operations — the "journal lag" an operator watches, since an
 * append is acknowledged once a majority holds it and a lagging follower is a node away from
 * a lost quorum. A single server (R1) has no followers: nothing to report.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface ReplicaLag {
  readonly name: string;
  readonly lag: number;
  readonly current: boolean;
}

export async function journalReplicas(nc: NatsConnection, stream: string): Promise<ReplicaLag[]> {
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  const info = await jsm.streams.info(stream);
  return (info.cluster?.replicas ?? []).map((r) => ({ name: r.name, lag: r.lag ?? 0, current: r.current }));
}
