// Builds channel adapters pointed at a running set of robot doubles, with one shared clock.
import sharp from 'sharp';
import type { ChannelCredentials } from '../../src/channels/credentials.js';
import { createDingtalkAdapter } from '../../src/channels/dingtalk/adapter.js';
import type { RobotDoubles } from '../../src/channels/doubles/server.js';
import { createFeishuAdapter } from '../../src/channels/feishu/adapter.js';
import { Outbound } from '../../src/channels/outbound.js';
import type { ChannelAdapter, ChannelMessage, ChannelTarget, TextCardPart } from '../../src/channels/types.js';
import { createWebhookAdapter } from '../../src/channels/webhook/adapter.js';
import { createWecomAdapter } from '../../src/channels/wecom/adapter.js';
import type { Clock } from '../../src/lib/clock.js';

/** The doubles listen on 127.0.0.1, which only an explicit allow-list lets a channel reach. */
export const doublesOutbound = () => new Outbound(['127.0.0.1']);

export function robotAdapters(doubles: RobotDoubles, clock: Clock, timeoutMs = 2_000) {
  const outbound = doublesOutbound();
  return {
    wecom: createWecomAdapter({ baseUrl: doubles.url, outbound, timeoutMs }),
    dingtalk: createDingtalkAdapter({ baseUrl: doubles.url, outbound, timeoutMs, clock }),
    feishu: createFeishuAdapter({ baseUrl: doubles.url, outbound, timeoutMs, clock }),
    webhook: createWebhookAdapter({ outbound, timeoutMs, clock }),
  } satisfies Record<string, ChannelAdapter>;
}

export function target(credentials: ChannelCredentials, groupId = '65f000000000000000000001'): ChannelTarget {
  return {
    groupId,
    groupName: '华工社区平安群',
    credentials,
    regionPath: ['000000', '440000', '440100', '440106', '440106001', '440106001001'],
    officer: { name: '张警官', phone: '13800000000' },
  };
}

export function textCard(
  format: TextCardPart['format'],
  content = '【防诈骗】不要向陌生账户转账。详情 https://jx.example/n/1',
): ChannelMessage {
  return {
    type: 'text',
    card: {
      format,
      title: '防诈骗提醒',
      content,
      url: 'https://jx.example/n/1',
      pictureUrl: format === 'link' ? 'https://jx.example/m/1.png' : null,
    },
  };
}

export async function pngBytes(width = 16, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .png()
    .toBuffer();
}

export async function jpegBytes(width = 16, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 20, g: 30, b: 200 } } })
    .jpeg()
    .toBuffer();
}
