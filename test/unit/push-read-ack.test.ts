/** The reply subject of a pushed JetStream message, parsed without splitting it (push-read.ts). */
import { describe, expect, it } from 'vitest';
import { parseAck } from '../../src/nats/push-read.js';

describe('parseAck', () => {
  it('reads the stream seq, consumer seq and pending count of the 9-token form', () => {
    expect({ ...parseAck('$JS.ACK.JETSAGA_EVENTS.Xk3j9.1.70512.812.1796314128115000000.6130')! }).toEqual({ streamSeq: 70512, consumerSeq: 812, pending: 6130 });
  });

  it('reads the form with a domain and account hash, with or without the random token', () => {
    expect({ ...parseAck('$JS.ACK.hub.ACCHASH.S.C.2.42.7.1796314128115000000.0')! }).toEqual({ streamSeq: 42, consumerSeq: 7, pending: 0 });
    expect({ ...parseAck('$JS.ACK.hub.ACCHASH.S.C.2.42.7.1796314128115000000.3.r4nd0m')! }).toEqual({ streamSeq: 42, consumerSeq: 7, pending: 3 });
  });

  it('refuses anything else', () => {
    for (const reply of ['', '_INBOX.abc', '$JS.ACK.S.C.1.2.3', '$JS.ACK.S.C.1.x.3.4.5', '$JS.ACK.S.C.1.2.3.4.-5', '$JS.API.S.C.1.2.3.4.5']) {
      expect(parseAck(reply), reply).toBeNull();
    }
  });
});
