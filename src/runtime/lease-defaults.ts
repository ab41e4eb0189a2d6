/**
 * The default coordinator lease TTL. On a single server 10 s. With replicated streams (a
 * cluster) 30 s: a SIGKILLed node that led the coordinators bucket leaves renewals failing for
 * the 5–7 s of a leader election (measured on loopback: 4.9–6.7 s, up to 5 s of it one renewal
 * hanging to its timeout), and renewals come every third of the TTL, so a 10 s lease whose
 * renewal met the election would lapse (stopping every saga of a live coordinator and letting
 * others take them over). 30 s outlasts an election with room to spare, at the cost of a
 * crashed coordinator's sagas waiting up to 30 s for a takeover (a graceful stop hands them
 * over at once). Either is overridden by `leaseTtlMs` (`--lease-ttl-ms`, JETSAGA_LEASE_TTL_MS).
 */
export const SINGLE_SERVER_LEASE_TTL_MS = 10_000;
export const REPLICATED_LEASE_TTL_MS = 30_000;

export function defaultLeaseTtlMs(replicas: number | undefined): number {
  return (replicas ?? 1) > 1 ? REPLICATED_LEASE_TTL_MS : SINGLE_SERVER_LEASE_TTL_MS;
}
