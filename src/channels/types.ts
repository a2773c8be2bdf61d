// The one interface every delivery channel implements. A channel knows wire formats only:
// it turns a rendered card into the platform's request, sends it, and classifies the answer.
import type { ChannelCredentials, ChannelKind } from './credentials.js';

export type { ChannelKind } from './kinds.js';

/** A rendered text card (the render room's TextCard has this shape). */
export interface TextCardPart {
  format: 'text' | 'markdown' | 'link';
  /** Markdown title / link-card title: what the chat's notification preview shows. */
  title: string;
  /** The message text (link cards: the description). */
  content: string;
  /** The tracked link to the full notice. */
  url: string;
  /** A public picture URL for link cards. */
  pictureUrl: string | null;
}

/** A rendered image card (the render room's ImageCard has these fields). */
export interface ImageCardPart {
  data: Buffer;
  mime: 'image/png' | 'image/jpeg';
  /** Where the same image is served publicly, for channels that show pictures only by URL. */
  publicUrl?: string | null;
  /** Heading used where the platform needs one beside the picture. */
  title?: string;
  /** The tracked link to the full notice, if any. */
  url?: string | null;
}

/** One message = one post into one group. */
export type ChannelMessage = { type: 'text'; card: TextCardPart } | { type: 'image'; image: ImageCardPart };

/** Who receives the message: what the audience room hands over for one group. */
export interface ChannelTarget {
  groupId: string;
  groupName: string;
  credentials: ChannelCredentials;
  regionPath: string[];
  officer: { name: string; phone: string | null } | null;
}

export interface SendOptions {
  /** Aborting after the request was written makes the outcome uncertain, never a silent retry. */
  signal?: AbortSignal;
  /** The engine's delivery id, kept with manual tasks so a confirmation finds its delivery. */
  reference?: string;
}

/**
 * sent: the platform accepted the post (manual: the officer's task exists, awaiting confirmation).
 * retryable: nothing was posted; try again (after retryAfterMs when the platform said so).
 * permanent: will never work as is; groupProblem = the group's channel is broken (flag the group).
 * uncertain: the post may or may not exist (timeout or reset after the request was sent).
 */
export type Outcome =
  | { status: 'sent'; taskId?: string }
  | { status: 'retryable'; code: string; message: string; retryAfterMs?: number }
  | { status: 'permanent'; code: string; message: string; groupProblem: boolean }
  | { status: 'uncertain'; code: string; message: string };

/** A published per-robot limit: at most `limit` sends per `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
  /** Where the figure comes from. */
  source: string;
  /** What the platform does when it is exceeded (e.g. a penalty window). */
  penaltyMs?: number;
}

export interface ChannelAdapter {
  kind: ChannelKind;
  /** Token-bucket limits per robot for the engine; empty = none published. */
  rateLimits: readonly RateLimit[];
  send(target: ChannelTarget, message: ChannelMessage, options?: SendOptions): Promise<Outcome>;
}
