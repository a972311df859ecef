import { randomFillSync } from 'node:crypto';

/**
 * An RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, then random bits. Ids
 * handed out in time order land at the right edge of the primary-key B-tree, so an
 * insert dirties the page the previous one did instead of a random page each (a v4
 * primary key made every SQLite commit write several times more pages to the WAL).
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomFillSync(Buffer.alloc(16));
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
