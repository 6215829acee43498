import { Lsn } from './lsn';

/**
 * The Standby Status Update ('r') we send on the replication connection, framed as a
 * CopyData message ready for the socket.
 *
 * We build it ourselves instead of calling LogicalReplicationService.acknowledge(): that
 * method reports `lsn + 1` (a confirmed_flush_lsn one byte past the acked commit can skip
 * a transaction whose commit record starts right there) and stamps the clock with a wrong
 * epoch constant (946080000000 instead of 946684800000 ms). Here write = flush = apply =
 * the confirmed position, exactly.
 */

/** 2000-01-01T00:00:00Z in Unix milliseconds: the epoch of the replication protocol's clock. */
const POSTGRES_EPOCH_MS = 946_684_800_000;

const PAYLOAD_BYTES = 1 + 8 + 8 + 8 + 8 + 1;

export function standbyStatusFrame(confirmed: Lsn, nowMs: number, replyRequested = false): Buffer {
  const frame = Buffer.alloc(1 + 4 + PAYLOAD_BYTES);
  frame.write('d', 0, 'latin1'); // CopyData
  frame.writeInt32BE(4 + PAYLOAD_BYTES, 1);
  let p = 5;
  frame.write('r', p++, 'latin1');
  frame.writeBigUInt64BE(confirmed, p); // written
  frame.writeBigUInt64BE(confirmed, p + 8); // flushed: becomes the slot's confirmed_flush_lsn
  frame.writeBigUInt64BE(confirmed, p + 16); // applied
  p += 24;
  frame.writeBigInt64BE(BigInt(Math.round((nowMs - POSTGRES_EPOCH_MS) * 1000)), p);
  frame.writeUInt8(replyRequested ? 1 : 0, p + 8);
  return frame;
}
