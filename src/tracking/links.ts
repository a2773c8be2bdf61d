// Tracked links: /t/<code>, where the code carries the campaign, group, notice and village
// it was made for, signed with a server secret. Making one needs no database write, so the
// planner can give every group its own link for free; a forged or altered code fails the
// signature and is answered with the friendly 404 page.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface LinkTarget {
  campaignId: string;
  /** Null for a link shared by every group of a campaign (e.g. an image card's QR code). */
  groupId: string | null;
  noticeId: string;
  /** The group's village: clicks are counted per township (its 9-digit prefix). When absent it is looked up from the group at click time. */
  villageCode?: string | null;
}

const NONE = 0xff;

const VERSION = 1;
const MAC_BYTES = 8; // 64 bits: a forger needs ~2^63 tries per code, far beyond the rate limit
const HEX_ID = /^[0-9a-f]{24}$/;
const DIGITS = /^\d{1,14}$/; // fits 6 bytes (2^48 > 10^14)

function packId(id: string | null | undefined): Buffer {
  if (id == null) return Buffer.from([NONE]);
  if (HEX_ID.test(id)) return Buffer.concat([Buffer.from([0]), Buffer.from(id, 'hex')]);
  const bytes = Buffer.from(id, 'utf8');
  if (bytes.length === 0 || bytes.length > 120) throw new Error(`id not linkable: ${id}`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function packDigits(code: string | null | undefined): Buffer {
  if (code == null || !DIGITS.test(code)) return packId(code);
  const out = Buffer.alloc(7);
  out[0] = 0x80 | code.length; // the length keeps leading zeros
  out.writeUIntBE(Number(code), 1, 6);
  return out;
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}

  private take(n: number): Buffer {
    if (this.at + n > this.bytes.length) throw new Error('short code');
    const part = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return part;
  }

  byte(): number {
    return this.take(1)[0]!;
  }

  id(): string | null {
    const tag = this.byte();
    if (tag === NONE) return null;
    if (tag === 0) return this.take(12).toString('hex');
    if (tag & 0x80) {
      const length = tag & 0x7f;
      return String(this.take(6).readUIntBE(0, 6)).padStart(length, '0');
    }
    return this.take(tag).toString('utf8');
  }

  done(): boolean {
    return this.at === this.bytes.length;
  }
}

function mac(secret: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', secret).update(payload).digest().subarray(0, MAC_BYTES);
}

export function encodeTrackedCode(target: LinkTarget, secret: Buffer): string {
  const payload = Buffer.concat([
    Buffer.from([VERSION]),
    packId(target.campaignId),
    packId(target.groupId),
    packId(target.noticeId),
    packDigits(target.villageCode),
  ]);
  return Buffer.concat([payload, mac(secret, payload)]).toString('base64url');
}

/** The target of a genuine code; null for anything malformed, altered or signed with another secret. */
export function decodeTrackedCode(code: string, secret: Buffer): LinkTarget | null {
  if (!/^[A-Za-z0-9_-]{20,400}$/.test(code)) return null;
  const bytes = Buffer.from(code, 'base64url');
  if (bytes.length <= MAC_BYTES + 1) return null;
  const payload = bytes.subarray(0, bytes.length - MAC_BYTES);
  const given = bytes.subarray(bytes.length - MAC_BYTES);
  if (!timingSafeEqual(given, mac(secret, payload))) return null;
  // Canonical form only: another base64 spelling of the same bytes is not a second code.
  if (Buffer.concat([payload, given]).toString('base64url') !== code) return null;
  try {
    const reader = new Reader(payload);
    if (reader.byte() !== VERSION) return null;
    const [campaignId, groupId, noticeId, villageCode] = [reader.id(), reader.id(), reader.id(), reader.id()];
    if (!campaignId || !noticeId || !reader.done()) return null;
    return { campaignId, groupId, noticeId, villageCode };
  } catch {
    return null;
  }
}

/** The URL a card's QR code and 详情 link point at. Pure: no database, no clock. */
export function trackedLink(baseUrl: string, target: LinkTarget, secret: Buffer): string {
  return `${baseUrl.replace(/\/+$/, '')}/t/${encodeTrackedCode(target, secret)}`;
}

/** Township of a village code (GB/T 2260: 6 county + 3 township + 3 village digits). */
export function townshipOf(villageCode: string): string {
  return villageCode.length === 12 ? villageCode.slice(0, 9) : villageCode;
}
