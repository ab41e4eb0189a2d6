/**
 * `$SRV.STATS` data: the coordinator's metrics (the figures `--metrics` serves as Prometheus
 * text) ride on the `boot.status` endpoint's stats — once, not once per endpoint, since a
 * STATS reply holds every endpoint and must stay well under NATS's max payload.
 */
import type { Endpoint as ServiceEndpoint } from '@nats-io/services';
import type { Coordinator } from '../coordinator.js';
import { Endpoint } from './subjects.js';

/** The `data` of an endpoint's stats: `{ metrics }` on `boot.status`, null elsewhere. */
export async function endpointStats(coordinator: Coordinator, endpoint: ServiceEndpoint): Promise<unknown> {
  if (!endpoint.subject.endsWith(`.${Endpoint.BootStatus}`)) return null;
  return { coordinator: coordinator.config.owner, metrics: await coordinator.metrics.json() };
}
