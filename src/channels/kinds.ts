// The delivery channels a group can use, and their names in the console and sheets.
export const CHANNEL_KINDS = ['wecom', 'dingtalk', 'feishu', 'webhook', 'manual', 'wecom_group'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/**
 * Channels whose one message goes to many groups (a WeCom customer-group task covers an
 * owner's groups): not personalised per village, and the link tracks per campaign.
 */
export const SHARED_MESSAGE_CHANNELS: ReadonlySet<string> = new Set<ChannelKind>(['wecom_group']);

export const CHANNEL_LABELS: Record<ChannelKind, string> = {
  wecom: '企业微信',
  dingtalk: '钉钉',
  feishu: '飞书',
  webhook: '自建平台',
  manual: '人工转发',
  wecom_group: '企业微信客户群',
};
