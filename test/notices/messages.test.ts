// Messages a person can act on: what to write instead, in the words staff use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { WANTED, noticeBody } from '../helpers/notices.js';

describe('notice messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock(new Date('2025-08-01T02:00:00Z')) });
  });
  afterAll(() => t.close());

  it('when the category is not one of ours, then the answer lists every allowed value with its Chinese label', async () => {
    const response = await t.request('POST', '/api/notices', t.adminToken, noticeBody({ category: 'fraud' }));
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('body.category');
    const { message } = response.json();
    for (const allowed of [
      'anti_fraud（防诈骗）',
      'anti_theft（防盗抢）',
      'wanted_clue（协查通告）',
      'general（警方提示）',
    ])
      expect(message).toContain(allowed);
  });

  it('when a phone number is malformed, then the answer shows the expected format', async () => {
    const response = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ category: 'wanted_clue', wanted: { ...WANTED, contactPhone: '李警官电话' } }),
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('body.wanted.contactPhone');
    expect(response.json().message).toContain('如 13800138000、0372-7221234');
  });

  it('when a wanted notice’s deadline is already past, then submitting it is refused, naming the date and the field', async () => {
    const created = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ category: 'wanted_clue', wanted: { ...WANTED, deadline: '2025-07-31' } }),
    );
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    const submitted = await t.request('POST', `/api/notices/${id}/submit`, t.adminToken);
    expect(submitted.statusCode).toBe(400);
    expect(submitted.json()).toMatchObject({ field: 'wanted.deadline' });
    expect(submitted.json().message).toContain('2025-07-31');
    expect(submitted.json().message).toContain('2025-08-01');
    expect((await t.request('GET', `/api/notices/${id}`, t.adminToken)).json().status).toBe('draft');

    await t.request('PATCH', `/api/notices/${id}`, t.adminToken, { wanted: { ...WANTED, deadline: '2025-08-01' } });
    expect((await t.request('POST', `/api/notices/${id}/submit`, t.adminToken)).statusCode).toBe(200);
  });
});
