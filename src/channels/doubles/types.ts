// Shapes shared by the robot doubles: robots, faults, recorded messages.
export type Platform = 'wecom' | 'dingtalk' | 'feishu' | 'webhook';

export interface WecomRobot {
  platform: 'wecom';
  key: string;
  /** 2048 (older doc, default) or 4096 (2025 doc). */
  textMaxBytes?: number;
}
export interface DingtalkRobot {
  platform: 'dingtalk';
  token: string;
  secret?: string | null;
  keywords?: string[];
  ipAllowList?: string[];
}
export interface FeishuRobot {
  platform: 'feishu';
  hookId: string;
  secret?: string | null;
  keywords?: string[];
  ipAllowList?: string[];
  /** How throttling answers: 11232 with HTTP 200 (default) or the older 9499 with HTTP 400. */
  throttleAnswer?: '11232' | '9499';
}
export interface WebhookReceiver {
  platform: 'webhook';
  id: string;
  secret: string;
  /** Optional limit per minute, answered with 429 and Retry-After. */
  perMinute?: number;
}
export type RobotConfig = WecomRobot | DingtalkRobot | FeishuRobot | WebhookReceiver;

export function robotId(robot: RobotConfig): string {
  switch (robot.platform) {
    case 'wecom':
      return robot.key;
    case 'dingtalk':
      return robot.token;
    case 'feishu':
      return robot.hookId;
    case 'webhook':
      return robot.id;
  }
}

export type Fault =
  /** 500/502/503/504 with an HTML page, before the platform saw the message (not recorded). */
  | { type: 'http-error'; status: 500 | 502 | 503 | 504 }
  /**
   * The platform posts (recorded), then its gateway answers 502 (upstream cut) or 504
   * (upstream timeout) with an HTML page: the client cannot tell it from a failure.
   */
  | { type: 'gateway-error-after-record'; status: 502 | 504 }
  /** The message is taken and recorded, but the answer comes after delayMs (past a client timeout). */
  | { type: 'slow'; delayMs: number }
  /** The platform's own throttle answer (WeCom 45009, DingTalk 130101, Feishu 11232, webhook 429), message not recorded. */
  | { type: 'throttle' }
  /** HTTP 200 with a body that is not JSON (message not recorded). */
  | { type: 'non-json' }
  /** HTTP 200 with an empty body (message not recorded). */
  | { type: 'empty' }
  /** DingTalk platform protection: the JSON {status:1111,…} body, or an HTML page. */
  | { type: 'ip-ban'; form?: 'json' | 'html' }
  /** Body read, connection closed without recording (nothing posted, client cannot know). */
  | { type: 'close-before-record' }
  /** Body read and the message recorded, then the connection closed (posted, client cannot know). */
  | { type: 'close-after-record' };

export interface FaultRule {
  fault: Fault;
  platform?: Platform;
  robot?: string;
  /** Applies to the next N matching calls; unset = until cleared. */
  times?: number;
  /** Applies to this share of matching calls, drawn from a seeded generator. */
  rate?: number;
  seed?: number;
}

export interface ReceivedMessage {
  platform: Platform;
  robot: string;
  /** msgtype / msg_type / webhook type. */
  type: string;
  body: Record<string, unknown>;
  /** The raw query string as it arrived (signatures are checked on it). */
  rawQuery: string;
  headers: Record<string, string>;
  receivedAt: Date;
}

/** What a platform handler decides for one call. */
export interface HandlerResult {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Set when the message is accepted: the server records it. */
  accepted?: Omit<ReceivedMessage, 'receivedAt' | 'rawQuery' | 'headers' | 'platform'>;
}

export interface IncomingCall {
  platform: Platform;
  robot: string;
  query: URLSearchParams;
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  remoteAddress: string;
  now: Date;
}
