import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { pngBytes, target, textCard } from '../helpers/channels.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('manual channel: officer tasks confirmed through a signed link', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jx.example.gov.cn' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  const manual = () => t.ctx.channels.adapterFor('manual');

  it('creates one task per delivery with the ready-to-forward text, even when the send is retried', async () => {
    const first = await manual().send(target({ kind: 'manual' }), textCard('text', '请转发：防诈骗提醒'), {
      reference: 'delivery-1',
    });
    const again = await manual().send(target({ kind: 'manual' }), textCard('text', '请转发：防诈骗提醒'), {
      reference: 'delivery-1',
    });
    expect(first).toMatchObject({ status: 'sent', taskId: expect.any(String) });
    expect(again).toEqual(first);
    const taskId = (first as { taskId: string }).taskId;
    const link = t.ctx.manualTasks.linkFor(taskId);
    // The link opens the console's phone page, which reads the task from the API with the same signed query.
    expect(link).toMatch(new RegExp(`^https://jx\\.example\\.gov\\.cn/task/${taskId}\\?exp=\\d+&sig=[\\w-]+$`));
    const view = await t.request('GET', link.replace('https://jx.example.gov.cn/task/', '/api/manual-tasks/'));
    expect(view.json()).toMatchObject({
      text: '请转发：防诈骗提醒',
      groupName: '华工社区平安群',
      confirmedAt: null,
      hasImage: false,
    });
  });

  it('serves the task picture through the signed link, stored once however many tasks share it', async () => {
    const data = await pngBytes(32, 32);
    const outcomes = [];
    for (const reference of ['img-1', 'img-2']) {
      outcomes.push(
        await manual().send(
          target({ kind: 'manual' }),
          { type: 'image', image: { data, mime: 'image/png', title: '防盗' } },
          { reference },
        ),
      );
    }
    const link = t.ctx.manualTasks
      .linkFor((outcomes[0] as { taskId: string }).taskId)
      .replace('https://jx.example.gov.cn/task/', '/api/manual-tasks/');
    const [path, query] = link.split('?');
    const image = await t.request('GET', `${path}/image?${query}`);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.rawPayload.equals(data)).toBe(true);
    expect(await t.ctx.db.connection.collection('manualimages').countDocuments()).toBe(1);
  });

  it('confirms once through the signed link; a forged or missing signature is refused', async () => {
    const sent = await manual().send(target({ kind: 'manual' }), textCard('text'), { reference: 'confirm-1' });
    const taskId = (sent as { taskId: string }).taskId;
    const confirmed: string[] = [];
    t.ctx.manualTasks.onConfirm(async (task) => {
      confirmed.push(task.reference);
    });
    const forged = await t.request(
      'POST',
      `/api/manual-tasks/${taskId}/confirm?exp=99999999999&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    );
    expect(forged.statusCode).toBe(403);
    expect((await t.request('POST', `/api/manual-tasks/${taskId}/confirm`)).statusCode).toBe(400);
    const signed = t.ctx.manualTasks.signedQuery(taskId);
    const sig = signed.split('sig=')[1]!;
    const first = await t.request('POST', `/api/manual-tasks/${taskId}/confirm?${signed}`);
    expect(first.json()).toMatchObject({ firstTime: true, confirmedAt: expect.any(String) });
    const second = await t.request('POST', `/api/manual-tasks/${taskId}/confirm?${signed}`);
    expect(second.json()).toMatchObject({ firstTime: false, confirmedAt: first.json().confirmedAt });
    expect(confirmed).toEqual(['confirm-1']);
    const sentAgain = await manual().send(target({ kind: 'manual' }), textCard('text'), { reference: 'confirm-2' });
    const otherId = (sentAgain as { taskId: string }).taskId;
    const otherSigned = t.ctx.manualTasks.signedQuery(otherId);
    const racing = await Promise.all(
      Array.from({ length: 6 }, () => t.request('POST', `/api/manual-tasks/${otherId}/confirm?${otherSigned}`)),
    );
    expect(racing.filter((r) => r.json().firstTime === true)).toHaveLength(1);
    expect(confirmed).toEqual(['confirm-1', 'confirm-2']);
    expect(t.logs()).not.toContain(sig);
  });

  it('lists tasks to officers inside their scope only', async () => {
    const { token } = await t.userToken('officer', TREE.countyB.code);
    const list = await t.request('GET', '/api/manual-tasks', token);
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([]);
    const { token: officerA } = await t.userToken('officer', TREE.townshipA.code);
    expect((await t.request('GET', '/api/manual-tasks?open=true', officerA)).json().length).toBeGreaterThan(0);
  });

  it("when an officer asks for their own tasks, then only the groups naming the officer's phone are listed", async () => {
    const { id: officerId, token } = await t.userToken('officer', TREE.townshipA.code);
    expect((await t.request('GET', '/api/manual-tasks?mine=true', token)).json()).toEqual([]);
    const phone = '13911112222';
    const set = await t.request('PATCH', `/api/users/${officerId}`, t.adminToken, { phone });
    expect(set.statusCode, set.body).toBe(200);
    const mine = await manual().send(
      { ...target({ kind: 'manual' }), officer: { name: '王警官', phone } },
      textCard('text', '本人的任务'),
      { reference: 'mine-1' },
    );
    await manual().send(
      { ...target({ kind: 'manual' }), officer: { name: '李警官', phone: '13900000000' } },
      textCard('text'),
      {
        reference: 'other-1',
      },
    );
    const listed = (await t.request('GET', '/api/manual-tasks?mine=true', token)).json() as { id: string }[];
    expect(listed.map((task) => task.id)).toEqual([(mine as { taskId: string }).taskId]);
    expect((await t.request('GET', '/api/manual-tasks', token)).json().length).toBeGreaterThan(1);
  });
});
