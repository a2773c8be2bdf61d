// A reviewer previews a notice as one group of the campaign's audience receives it: the
// review facts name one group per channel, and the text and image previews for that group
// carry what the engine posts there — the village and officer in the personalised strip for
// a village's own group, none for a WeCom customer-group task (one message for all the
// owner's groups, dispatch.ts posts it without a village).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { audienceOf } from '../helpers/delivery.js';
import { groupBody } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const OFFICER = { name: '陈警官', phone: '13700001111' };

describe('previews for a group of the audience', () => {
  let t: TestApp;
  let editor: string;
  let reviewer: string;
  let noticeId: string;
  const groups: Record<'wecom' | 'manual' | 'wecom_group', string> = { wecom: '', manual: '', wecom_group: '' };

  async function ok(response: { statusCode: number; body: string; json(): unknown }) {
    expect(response.statusCode, response.body).toBeLessThan(300);
    return response.json() as Record<string, unknown>;
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
    reviewer = (await t.userToken('reviewer', TREE.countyA.code)).token;
    for (const kind of ['wecom', 'manual', 'wecom_group'] as const) {
      const channel = kind === 'wecom' ? { kind: 'wecom', key: 'wecom-preview-key-0001' } : { kind: 'manual' };
      const created = await ok(
        await t.request('POST', '/api/groups', t.adminToken, groupBody({ name: `石牌村${kind}群`, channel, officer: OFFICER })),
      );
      groups[kind] = created.id as string;
    }
    // A customer group is created by the WeCom sync only (wecom-sync.ts); its fields as the sync writes them.
    await GroupModel.updateOne(
      { _id: groups.wecom_group },
      {
        $set: {
          channelKind: 'wecom_group',
          credentialsSealed: t.ctx.groups.sealCredentials({
            kind: 'wecom_group',
            countyCode: TREE.countyA.code,
            chatId: 'wrPreviewChat0001',
            ownerUserId: 'owner-preview',
          }),
        },
      },
    );
    const notice = await ok(
      await t.request('POST', '/api/notices', editor, {
        category: 'anti_fraud',
        title: '警惕冒充客服退款诈骗',
        body: '正规客服不会要求下载屏幕共享软件。',
        issuingUnit: '天河区公安分局',
      }),
    );
    noticeId = notice.id as string;
  }, 120_000);
  afterAll(() => t?.close());

  const village = TREE.villageA.name;

  it('the review facts name one group of the audience per channel', async () => {
    const campaign = await ok(
      await t.request('POST', '/api/campaigns', editor, {
        noticeId,
        title: '退款诈骗提醒',
        audience: audienceOf([], Object.values(groups)),
        schedule: { kind: 'now' },
      }),
    );
    const facts = (await ok(await t.request('GET', `/api/campaigns/${campaign.id}/review-facts`, reviewer))) as {
      audience: { samples: { id: string; name: string; channel: string }[] };
    };
    expect(facts.audience.samples.sort((a, b) => a.channel.localeCompare(b.channel))).toEqual([
      { id: groups.manual, name: '石牌村manual群', channel: 'manual' },
      { id: groups.wecom, name: '石牌村wecom群', channel: 'wecom' },
      { id: groups.wecom_group, name: '石牌村wecom_group群', channel: 'wecom_group' },
    ]);
  });

  async function image(body: Record<string, unknown>): Promise<string> {
    const response = await t.request('POST', `/api/notices/${noticeId}/preview/image`, reviewer, body);
    expect(response.statusCode, response.body).toBe(200);
    return String(response.headers['x-card-sha256']);
  }

  it('the image card for a village’s group carries its village and officer, as the engine posts it', async () => {
    const personal = { villageName: village, townshipName: TREE.townshipA.name, officerName: OFFICER.name, officerPhone: OFFICER.phone };
    const forGroup = await image({ groupId: groups.wecom });
    expect(forGroup).toBe(await image({ personal }));
    expect(forGroup).not.toBe(await image({}));
  });

  it('a WeCom customer group’s cards carry no village: the owner’s one message goes to all their groups', async () => {
    expect(await image({ channel: 'wecom_group', groupId: groups.wecom_group })).toBe(await image({ channel: 'wecom_group' }));
    const text = await ok(
      await t.request('POST', `/api/notices/${noticeId}/preview/text`, reviewer, {
        channel: 'wecom_group',
        cardStyle: 'rich',
        groupId: groups.wecom_group,
      }),
    );
    expect(text.content).not.toContain(village);
    const manual = await ok(
      await t.request('POST', `/api/notices/${noticeId}/preview/text`, reviewer, {
        channel: 'manual',
        cardStyle: 'text',
        groupId: groups.manual,
      }),
    );
    expect(manual.content).toContain(OFFICER.name);
  });

  it('refuses a group and personal fields together, by field', async () => {
    const response = await t.request('POST', `/api/notices/${noticeId}/preview/image`, reviewer, {
      groupId: groups.wecom,
      personal: { villageName: village },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toContain('二选一');
  });
});
