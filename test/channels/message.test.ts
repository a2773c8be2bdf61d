// What an author previews and test-sends is what gets posted, byte for byte: for every
// channel (WeCom, DingTalk, Feishu, the signed webhook, an officer's manual task) and every
// text style (plain text, the channel's rich format), the body the engine's post delivers to
// the channel's double, the body of the test send to the same group, and the preview API's
// `body` for that group are the same bytes, once the three values that must differ are put
// side by side: the link (the engine's short tracked link vs the notice's page), the test
// send's 【测试】 title mark, and Feishu's signature time (and the webhook's group, which a
// preview does not know). The same holds for a county whose officers forward texts without
// the link (its setting applies to the post, the test send, the saved notice's preview and
// the unsaved draft's preview alike).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { groupBody } from '../helpers/groups.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai: outside quiet hours, so test sends are allowed.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const BASE = 'https://jx.example.cn';
const OFFICER = { name: '王警官', phone: '13900000000' };
const BODY = [
  '近期冒充“客服”退款诈骗多发，请注意：',
  '',
  '- 正规客服不会要求下载**屏幕共享**软件；',
  '- 不向陌生账户转账，提供有效线索者奖励人民币5000元。',
  '',
  '如有疑问请拨打 96110 咨询。',
].join('\n');

type Channel = 'wecom' | 'dingtalk' | 'feishu' | 'webhook' | 'manual';
const CHANNELS: Channel[] = ['wecom', 'dingtalk', 'feishu', 'webhook', 'manual'];

interface Task {
  groupId: string;
  title: string;
  text: string | null;
}

describe('preview = test send = posted body', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  const groups = {} as Record<Channel, { id: string; robot: string | null }>;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { PUBLIC_BASE_URL: BASE, TEST_SEND_DAILY_QUOTA: '100', TOKEN_TTL_HOURS: '720' } });
    const credentials: Record<Channel, { robot: string | null; channel: Record<string, unknown> }> = {
      wecom: { robot: 'wecom-message-key-01', channel: { kind: 'wecom', key: 'wecom-message-key-01' } },
      dingtalk: {
        robot: 'dingtalk-message-token-01',
        channel: { kind: 'dingtalk', accessToken: 'dingtalk-message-token-01', secret: 'SECdingtalkmessage01' },
      },
      feishu: { robot: 'feishu-message-hook-01', channel: { kind: 'feishu', hookId: 'feishu-message-hook-01', secret: 'feishu-message-01' } },
      webhook: {
        robot: 'county-message-platform',
        channel: { kind: 'webhook', url: w.doubles.webhookUrl('county-message-platform'), secret: 'webhook-message-secret-01' },
      },
      manual: { robot: null, channel: { kind: 'manual' } },
    };
    w.doubles.addRobot({ platform: 'wecom', key: 'wecom-message-key-01' });
    w.doubles.addRobot({ platform: 'dingtalk', token: 'dingtalk-message-token-01', secret: 'SECdingtalkmessage01' });
    w.doubles.addRobot({ platform: 'feishu', hookId: 'feishu-message-hook-01', secret: 'feishu-message-01' });
    w.doubles.addRobot({ platform: 'webhook', id: 'county-message-platform', secret: 'webhook-message-secret-01' });
    for (const channel of CHANNELS) {
      const created = await w.t.request(
        'POST',
        '/api/groups',
        w.t.adminToken,
        groupBody({ name: `华工社区${channel}群`, channel: credentials[channel].channel, officer: OFFICER }),
      );
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id as string;
      const marked = await w.t.request('PATCH', `/api/groups/${id}`, w.t.adminToken, { forTests: true });
      expect(marked.statusCode, marked.body).toBe(200);
      groups[channel] = { id, robot: credentials[channel].robot };
    }
    noticeId = await approvedNotice(w, { title: '警惕冒充客服退款诈骗', body: BODY });
  }, 120_000);
  afterAll(() => w?.close());

  const platformOf = (channel: Channel) => channel as 'wecom' | 'dingtalk' | 'feishu' | 'webhook';

  /** The last body the channel received for the group, as sent (robots) or forwarded (manual). */
  async function lastPosted(channel: Channel, marked: boolean): Promise<string> {
    if (channel === 'manual') {
      const tasks = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as Task[];
      const task = tasks.find((t) => t.groupId === groups.manual.id && t.title.includes('【测试】') === marked);
      expect(task, 'the officer has the task').toBeDefined();
      return task!.text!;
    }
    const received = w.doubles.received({ platform: platformOf(channel), robot: groups[channel].robot! });
    expect(received.length).toBeGreaterThan(0);
    return JSON.stringify(received.at(-1)!.body);
  }

  /** Puts the values that must differ side by side: the link, the test mark, Feishu's signature, the webhook's group. */
  function comparable(channel: Channel, body: string): string {
    const text = body
      .replace(/https:\/\/jx\.example\.cn\/t\/[0-9A-Za-z]{8}/g, `${BASE}/n/${noticeId}`)
      .replaceAll('【测试】', '');
    if (channel === 'manual' || channel === 'wecom' || channel === 'dingtalk') return text;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (channel === 'feishu') {
      parsed.timestamp = 'T';
      parsed.sign = 'S';
    } else parsed.group = 'G';
    return JSON.stringify(parsed);
  }

  /** The notice's content as the console's form sends it for a live (unsaved) preview. */
  async function draftOf(id: string): Promise<Record<string, unknown>> {
    const notice = (await w.t.request('GET', `/api/notices/${id}`, w.editor)).json();
    const c = notice.content;
    return {
      category: c.category,
      title: c.title,
      body: c.body,
      summary: c.summary ?? null,
      issuingUnit: c.issuingUnit,
      hotline: c.hotline ?? null,
      pictureSha256: null,
      wanted: c.wanted ?? null,
    };
  }

  async function setCountyLink(withoutLink: boolean) {
    const url = `/api/regions/${TREE.countyA.code}/officer-text`;
    const set = await w.t.request('PUT', url, w.t.adminToken, { withoutLink });
    expect(set.statusCode, set.body).toBe(200);
  }

  for (const [cardStyle, withoutLink] of [
    ['text', false],
    ['rich', false],
    ['text', true],
    ['rich', true],
  ] as const) {
    const county = withoutLink ? ', for a county whose officers forward texts without the link' : '';
    it(`when a notice goes out as ${cardStyle}${county}, then every channel’s posted body equals its test send and its previews`, async () => {
      clock.advance(61_000); // a fresh minute for the platforms' per-robot rate limits
      await setCountyLink(withoutLink);
      const campaignId = await approvedCampaign(w, {
        title: `客服退款防诈（${cardStyle}）`,
        noticeId,
        cardStyle,
        audience: audienceOf([], CHANNELS.map((c) => groups[c].id)),
        schedule: { kind: 'now' },
        priority: 'urgent',
      });
      expect(campaignId).toBeTruthy();
      await runUntilIdle(w);
      const posted = {} as Record<Channel, string>;
      for (const channel of CHANNELS) posted[channel] = await lastPosted(channel, false);

      for (const channel of CHANNELS) {
        const sent = await w.t.request('POST', '/api/campaigns/test-send', w.editor, {
          noticeId,
          groupId: groups[channel].id,
          cardStyle,
        });
        expect(sent.statusCode, sent.body).toBe(200);
        expect(sent.json().status, sent.body).toBe('sent');
        const testSent = await lastPosted(channel, true);
        expect(testSent, `${channel}: the test send carries its mark`).toContain('【测试】');

        // The preview for the group: its place, its officer and its county's setting.
        const preview = await w.t.request('POST', `/api/notices/${noticeId}/preview/text`, w.editor, {
          channel,
          cardStyle,
          version: 1,
          groupId: groups[channel].id,
        });
        expect(preview.statusCode, preview.body).toBe(200);
        const { body, bodyBytes } = preview.json() as { body: string; bodyBytes: number };
        expect(Buffer.byteLength(body)).toBe(bodyBytes);

        const linkless = channel === 'manual' && withoutLink;
        if (linkless) {
          expect(posted[channel], 'the officer’s text carries no link').not.toMatch(/https?:|\/t\/|\/n\//);
          expect(body, 'nor does its preview').not.toMatch(/https?:|\/t\/|\/n\//);
        } else {
          expect(posted[channel], `${channel}: the engine's post carries the short link`).toMatch(/\/t\/[0-9A-Za-z]{8}/);
        }
        expect(comparable(channel, posted[channel]), `${channel}/${cardStyle}: posted = preview`).toBe(comparable(channel, body));
        expect(comparable(channel, testSent), `${channel}/${cardStyle}: test send = preview`).toBe(comparable(channel, body));

        // The live preview beside the notice form, for the same group, shows the same card.
        const draft = await w.t.request('POST', '/api/previews/text', w.editor, {
          content: await draftOf(noticeId),
          cardStyle,
          groupId: groups[channel].id,
        });
        expect(draft.statusCode, draft.body).toBe(200);
        const card = (draft.json().cards as { channel: string; content: string }[]).find((c) => c.channel === channel)!;
        const previewed = card.content.replaceAll(`${BASE}/n/preview`, `${BASE}/n/${noticeId}`);
        expect(previewed, `${channel}/${cardStyle}: live preview = the saved notice's preview`).toBe(
          (preview.json() as { content: string }).content,
        );
        if (channel === 'manual') expect(comparable(channel, posted[channel])).toBe(previewed);
      }
    }, 120_000);
  }

  it('when the editor’s own county forwards texts without the link, then the live preview’s officer text has none', async () => {
    await setCountyLink(true);
    const draft = await w.t.request('POST', '/api/previews/text', w.editor, { content: await draftOf(noticeId) });
    expect(draft.statusCode, draft.body).toBe(200);
    const manual = (draft.json().cards as { channel: string; content: string }[]).find((c) => c.channel === 'manual')!;
    expect(manual.content).toContain('警惕冒充客服退款诈骗');
    expect(manual.content).not.toMatch(/https?:|\/n\//);
    await setCountyLink(false);
    const again = await w.t.request('POST', '/api/previews/text', w.editor, { content: await draftOf(noticeId) });
    const withLink = (again.json().cards as { channel: string; content: string }[]).find((c) => c.channel === 'manual')!;
    expect(withLink.content.trimEnd().endsWith(`${BASE}/n/preview`)).toBe(true);
  });
});
