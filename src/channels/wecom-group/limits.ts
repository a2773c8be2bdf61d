// WeCom customer-group mass send (企业微信客户群群发) limits and codes. Source:
// ../shared/reference/wecom-customer-groups.md (cited as "ref §n"; W<n> = WeCom doc path).
import type { RateLimit } from '../types.js';

/** ref §3 (W92135, WxJava): at most 2,000 chat ids per add_msg_template task. */
export const WECOM_GROUP_MAX_CHATS_PER_TASK = 2000;
/** ref §3 (go-wecom, QQ::weixin::work): text.content ≤ 4,000 bytes. */
export const WECOM_GROUP_TEXT_MAX_BYTES = 4000;
/** ref §3: ≤ 9 attachments; link title ≤ 128 B, url ≤ 2,048 B, desc ≤ 512 B. */
export const WECOM_GROUP_MAX_ATTACHMENTS = 9;
export const WECOM_GROUP_LINK_TITLE_MAX_BYTES = 128;
export const WECOM_GROUP_LINK_URL_MAX_BYTES = 2048;
export const WECOM_GROUP_LINK_DESC_MAX_BYTES = 512;
/**
 * ref §6: media/upload images: 10 MB in rev 2024-07-22, older copies 2 MB (and 1 MB), the
 * 45001 text 5 MB. The cards we make are far smaller; 2 MB is the safe reading.
 */
export const WECOM_GROUP_IMAGE_MAX_BYTES = 2 * 1024 * 1024;
/** ref §6 (W96484): a media_id is valid 3 days; re-uploaded when older than this (a margin). */
export const WECOM_GROUP_MEDIA_REUSE_MS = 3 * 24 * 3600_000 - 6 * 3600_000;
/** ref §5 (W97610, WxJava, wecom-sdk): ≤ 3 reminders per msgid per 24 h; the 4th → 41094. */
export const WECOM_GROUP_REMINDERS_PER_DAY = 3;
/** ref §2 (W93414): groupchat/list limit 1–1000; owner_filter ≤ 100 userids. */
export const WECOM_GROUP_LIST_PAGE = 1000;
/** ref §4: get_groupmsg_send_result limit max 1,000 (above → the default 500, not clamped). */
export const WECOM_GROUP_RESULT_PAGE = 1000;
/** ref §1 (W91039): tokens last expires_in (7,200 s); refreshed this long before, WeCom may revoke earlier. */
export const WECOM_TOKEN_MARGIN_MS = 5 * 60_000;

/**
 * ref §1: the codes on which a cached token is dropped and fetched again, then the call
 * repeated once: 40014 不合法的access_token and 42001 access_token已过期 (zsmhub refreshes on
 * these two [ZSM]); 41001 缺少access_token likewise. 40001 (不合法的secret, WxJava refreshes on
 * it too [WJ]) comes from gettoken itself: a new fetch would meet the same wrong secret, so
 * it is a configuration error here, not a refresh.
 */
export const WECOM_TOKEN_REFRESH_CODES: readonly number[] = [40014, 42001, 41001];
/** ref §1: the app's settings are wrong (secret, corp id): nothing works until an admin fixes them. */
export const WECOM_APP_CONFIG_CODES: readonly number[] = [40001, 40013, 40091, 48002];
/** ref §7 (W90454): 45009 per-minute/hour frequency (a 60 s block), 45033 concurrency. */
export const WECOM_API_THROTTLE_CODES: readonly number[] = [45009, 45033];
/** ref §7: the minute's block is 60 s; we wait a little longer. */
export const WECOM_API_THROTTLE_WAIT_MS = 65_000;
/** ref §4: 41063 群发消息正在被派发中, right after creation: ask again later. */
export const WECOM_GROUP_DISPATCHING = 41063;
/** ref §5: 41093 群发任务已取消 (inferred: remind/cancel of a cancelled task), 41094 提醒超过频率限制. */
export const WECOM_GROUP_CANCELLED = 41093;
export const WECOM_GROUP_REMIND_LIMITED = 41094;
/** ref §3 (inferred): no valid target in the task. */
export const WECOM_GROUP_NO_TARGET = 41048;

/**
 * ref §7: per corp per API 10,000/min. Ours: add_msg_template is one call per owner per
 * run, so the engine's per-group "send" (queuing the group into its owner's task) has no
 * platform limit to respect.
 */
export const WECOM_GROUP_RATE_LIMITS: readonly RateLimit[] = [];

/**
 * ref §7: the per-group receive cap, three wordings; the current (W92135 rev 2025-11-17) is
 * "days-in-month per month", adjustable in 群发助手 to 7 per week or 1 per day. Window
 * boundaries are unverified: we count by calendar periods in the service's time zone.
 */
export type WecomCapPolicy = 'month' | 'week' | 'day';
export const WECOM_CAP_POLICIES: readonly WecomCapPolicy[] = ['month', 'week', 'day'];
