// The only reader of process.env: turns the environment into a typed, validated Config.
// Every variable is documented in .env.example; a bad value stops the start with a
// message that names the variable.
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export type ProcessRole = 'all' | 'api' | 'scheduler' | 'worker';

export interface Config {
  host: string;
  port: number;
  /** Public base URL used in tracked links and confirmation links. */
  publicBaseUrl: string;
  /** Unset: the embedded FerretDB is started under dataDir. */
  mongodbUri: string | undefined;
  dataDir: string;
  ferretdbBin: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  adminUsername: string;
  adminPassword: string | undefined;
  tokenTtlHours: number;
  /** Failures in a row (one account, one address) before that address is delayed. */
  loginMaxFailures: number;
  /** The longest such delay (it doubles from 5 s). */
  loginLockoutMinutes: number;
  /** Login attempts one address may make a minute (a shared station address may need more). */
  loginRatePerMinute: number;
  bodyLimitBytes: number;
  timeZone: string;
  /** 32-byte key (hex or base64) for credentials at rest; unset: a key file under dataDir. */
  credentialsKey: string | undefined;
  /** Robot API base URLs (tests and demos point them at the local doubles). */
  wecomBaseUrl: string;
  /** WeCom's server API (customer groups: gettoken, add_msg_template …); by default the robots' host. */
  wecomApiBaseUrl: string;
  dingtalkBaseUrl: string;
  feishuBaseUrl: string;
  /**
   * Host names, addresses and CIDR ranges that posts may reach although they are loopback,
   * private, link-local or otherwise special-purpose (a county intranet platform, local doubles).
   */
  outboundAllowHosts: string[];
  /** How long a channel send may take before it counts as timed out (uncertain). */
  channelTimeoutMs: number;
  /** Local window in which normal-priority sends wait for the morning. */
  quietHours: { start: string; end: string };
  /** Sends in flight at once per worker process. */
  workerConcurrency: number;
  /** Attempts per delivery before a transient failure becomes final. */
  maxAttempts: number;
  /** First retry delay; each further one doubles (with jitter), up to 10 minutes. */
  retryBaseMs: number;
  /** How long a worker's hold on a batch lasts without renewal: a dead worker's batches wait this long. */
  leaseMs: number;
  /**
   * Writes each step of a multi-step state change to stderr (`intent-step …`): the
   * reliability scenario kills the API process at one. Off in production.
   */
  intentTrace: boolean;
  /** Signs tracked links (/t/…) and keys unique visitors; unset: generated once into the database. */
  linkSecret: string | undefined;
  /** Days a wanted case's tips (and their photos) are kept after the case's outcome; then purged. */
  tipRetentionDays: number;
  /** Days a settled run's engine internals are kept before retention prunes or compacts them (docs/retention.md). */
  engineRetentionDays: number;
  /** How often the retention jobs run, in minutes. */
  retentionEveryMinutes: number;
  /** Minutes a workbench tally nobody wrote to is kept before it is read whole again (workbench/tallies.ts). */
  tallyRecountMinutes: number;
  /** Test sends one user may make per local day (issue 26, finding 7). */
  testSendDailyQuota: number;
  /** Minutes an officer's manual task may stay unconfirmed before a reminder, and again before the superior is told. */
  taskReminderMinutes: { normal: number; urgent: number };
  /**
   * Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs); false: none, so
   * request.ip (every per-address limit, click de-duplication, the audit log) is the socket's peer.
   */
  trustProxy: false | string[];
  /** Strict-Transport-Security (and upgrade-insecure-requests); on by default when PUBLIC_BASE_URL is https. */
  hsts: boolean;
  /** /docs and /openapi.json; on by default only for a local install (PUBLIC_BASE_URL on loopback). */
  apiDocs: boolean;
  /** API_DOCS=auto on a local install: /docs answers loopback peers only. */
  apiDocsLoopbackOnly: boolean;
  /** Bearer token /metrics asks for; unset: metrics open on a local install, not served otherwise. */
  metricsToken: string | undefined;
  metricsOpen: boolean;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Configuration error in ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

function optionalText(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function mongoUri(env: Env): string | undefined {
  const uri = optionalText(env, 'MONGODB_URI');
  if (uri && !/^mongodb(\+srv)?:\/\//.test(uri)) {
    throw new ConfigError('MONGODB_URI', 'must start with mongodb:// or mongodb+srv://');
  }
  return uri;
}

function timeZone(env: Env): string {
  const zone = text(env, 'TIME_ZONE', 'Asia/Shanghai');
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new ConfigError('TIME_ZONE', `unknown IANA time zone "${zone}"`);
  }
  return zone;
}

function credentialsKey(env: Env): string | undefined {
  const key = optionalText(env, 'CREDENTIALS_KEY');
  if (!key) return undefined;
  const bytes = /^[0-9a-fA-F]{64}$/.test(key) ? 32 : Buffer.from(key, 'base64').length;
  if (bytes !== 32) throw new ConfigError('CREDENTIALS_KEY', 'must be 32 bytes as 64 hex digits or base64');
  return key;
}

function baseUrl(env: Env, name: string, fallback: string): string {
  const url = text(env, name, fallback).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError(name, `must be an http:// or https:// URL, got "${url}"`);
  return url;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** OUTBOUND_ALLOW_HOSTS: host names (exact), addresses or CIDR ranges, separated by commas or spaces. */
function outboundAllowHosts(env: Env): string[] {
  const entries = (env.OUTBOUND_ALLOW_HOSTS ?? '').split(/[\s,]+/).filter(Boolean);
  return entries.map((raw) => {
    const entry = raw.toLowerCase();
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    if (version && rest.length === 0) {
      if (prefix === undefined) return entry;
      if (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128)) return entry;
    } else if (!version && prefix === undefined && HOST_NAME.test(entry)) {
      return entry;
    }
    throw new ConfigError('OUTBOUND_ALLOW_HOSTS', `expected host names, addresses or CIDR ranges, got "${raw}"`);
  });
}

function quietHours(env: Env): { start: string; end: string } {
  const raw = text(env, 'QUIET_HOURS', '22:00-07:00');
  const match = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(raw);
  if (!match) throw new ConfigError('QUIET_HOURS', `expected HH:MM-HH:MM (e.g. 22:00-07:00), got "${raw}"`);
  const [start, end] = raw.split('-') as [string, string];
  if (start === end) throw new ConfigError('QUIET_HOURS', 'start and end must differ');
  return { start, end };
}

function linkSecret(env: Env): string | undefined {
  const secret = optionalText(env, 'LINK_SECRET');
  if (secret !== undefined && secret.length < 32)
    throw new ConfigError('LINK_SECRET', 'must be at least 32 characters');
  return secret;
}

/** `TRUST_PROXY`: off (default) or a comma-separated list of proxy addresses / CIDRs. */
function trustProxy(env: Env): false | string[] {
  const raw = optionalText(env, 'TRUST_PROXY');
  if (!raw || /^(off|false|no|0)$/i.test(raw)) return false;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new ConfigError(
        'TRUST_PROXY',
        `expected off or proxy addresses/CIDRs (e.g. 10.0.0.5,10.1.0.0/16), got "${entry}"`,
      );
    }
  }
  return entries;
}

/** PUBLIC_BASE_URL on a loopback host: a developer's laptop, not an install residents reach. */
function isLocalInstall(publicBaseUrl: string): boolean {
  const host = new URL(publicBaseUrl).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function onOffAuto(env: Env, name: string, auto: boolean): boolean {
  const value = oneOf(env, name, ['on', 'off', 'auto'] as const, 'auto');
  return value === 'auto' ? auto : value === 'on';
}

function metricsToken(env: Env): string | undefined {
  const token = optionalText(env, 'METRICS_TOKEN');
  if (token !== undefined && token.length < 16) throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  return token;
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const host = text(env, 'HOST', '127.0.0.1');
  const publicBaseUrl = text(env, 'PUBLIC_BASE_URL', `http://${host}:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(publicBaseUrl)) {
    throw new ConfigError('PUBLIC_BASE_URL', 'must start with http:// or https://');
  }
  const adminPassword = optionalText(env, 'ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 10) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be at least 10 characters');
  }
  const dataDir = resolve(text(env, 'DATA_DIR', './data'));
  // A send must end well inside the batch lease its worker renews between sends.
  const channelTimeoutMs = integer(env, 'CHANNEL_TIMEOUT_MS', 10_000, 100, 120_000);
  const leaseMs = integer(env, 'LEASE_SECONDS', 60, 2, 3600) * 1000;
  if (channelTimeoutMs * 2 > leaseMs) {
    throw new ConfigError('CHANNEL_TIMEOUT_MS', `must be at most half of LEASE_SECONDS (${leaseMs / 2} ms)`);
  }
  return {
    host,
    port,
    publicBaseUrl,
    mongodbUri: mongoUri(env),
    dataDir,
    ferretdbBin: resolve(text(env, 'FERRETDB_BIN', './.tools/bin/ferretdb')),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    adminUsername: text(env, 'ADMIN_USERNAME', 'admin'),
    adminPassword,
    tokenTtlHours: integer(env, 'TOKEN_TTL_HOURS', 12, 1, 24 * 30),
    loginMaxFailures: integer(env, 'LOGIN_MAX_FAILURES', 5, 1, 100),
    loginLockoutMinutes: integer(env, 'LOGIN_LOCKOUT_MINUTES', 15, 1, 24 * 60),
    loginRatePerMinute: integer(env, 'LOGIN_RATE_PER_MINUTE', 20, 1, 10_000),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    timeZone: timeZone(env),
    credentialsKey: credentialsKey(env),
    wecomBaseUrl: baseUrl(env, 'WECOM_BASE_URL', 'https://qyapi.weixin.qq.com'),
    wecomApiBaseUrl: baseUrl(env, 'WECOM_API_BASE_URL', baseUrl(env, 'WECOM_BASE_URL', 'https://qyapi.weixin.qq.com')),
    dingtalkBaseUrl: baseUrl(env, 'DINGTALK_BASE_URL', 'https://oapi.dingtalk.com'),
    feishuBaseUrl: baseUrl(env, 'FEISHU_BASE_URL', 'https://open.feishu.cn'),
    outboundAllowHosts: outboundAllowHosts(env),
    channelTimeoutMs,
    quietHours: quietHours(env),
    workerConcurrency: integer(env, 'WORKER_CONCURRENCY', 16, 1, 256),
    maxAttempts: integer(env, 'MAX_ATTEMPTS', 6, 1, 50),
    retryBaseMs: integer(env, 'RETRY_BASE_MS', 5_000, 10, 600_000),
    leaseMs,
    intentTrace: oneOf(env, 'INTENT_TRACE', ['on', 'off'] as const, 'off') === 'on',
    linkSecret: linkSecret(env),
    tipRetentionDays: integer(env, 'TIP_RETENTION_DAYS', 180, 1, 3650),
    engineRetentionDays: integer(env, 'ENGINE_RETENTION_DAYS', 7, 1, 3650),
    retentionEveryMinutes: integer(env, 'RETENTION_EVERY_MINUTES', 60, 1, 7 * 24 * 60),
    tallyRecountMinutes: integer(env, 'TALLY_RECOUNT_MINUTES', 60, 5, 7 * 24 * 60),
    testSendDailyQuota: integer(env, 'TEST_SEND_DAILY_QUOTA', 10, 1, 1000),
    taskReminderMinutes: {
      normal: integer(env, 'TASK_REMINDER_MINUTES', 120, 1, 7 * 24 * 60),
      urgent: integer(env, 'TASK_REMINDER_URGENT_MINUTES', 30, 1, 7 * 24 * 60),
    },
    trustProxy: trustProxy(env),
    hsts: onOffAuto(env, 'HSTS', publicBaseUrl.startsWith('https://')),
    apiDocs: onOffAuto(env, 'API_DOCS', isLocalInstall(publicBaseUrl)),
    apiDocsLoopbackOnly: oneOf(env, 'API_DOCS', ['on', 'off', 'auto'] as const, 'auto') === 'auto',
    metricsToken: metricsToken(env),
    metricsOpen: !metricsToken(env) && isLocalInstall(publicBaseUrl),
  };
}

/** Reads `--role=…` (or ROLE) for main.ts; all roles in one process by default. */
export function processRole(argv: string[], env: Env = process.env): ProcessRole {
  const flag = argv.find((arg) => arg.startsWith('--role='))?.slice('--role='.length);
  const fromEnv: Env = { ROLE: flag ?? env.ROLE };
  return oneOf(fromEnv, 'ROLE', ['all', 'api', 'scheduler', 'worker'] as const, 'all');
}
