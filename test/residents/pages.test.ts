// The residents' pages and the tip form's bad input: only notices that were sent are public,
// a wanted notice's page is made for a phone (picture, tel: links, a form, no script), every
// refused tip gets a plain answer and stores nothing, the form closes after the deadline, and a
// retracted notice shows only that it was withdrawn.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TipModel } from '../../src/tips/model.js';
import { approvedNotice } from '../helpers/delivery.js';
import { noticeBody } from '../helpers/notices.js';
import { formData } from './http.js';
import { type WantedWorld, startWantedWorld } from './world.js';
import { pageText } from '../helpers/html.js';

const tips = () => TipModel.countDocuments();
const tipPhotos = () => mongoose.connection.db!.collection('tipphotos.files').countDocuments();

describe('the residents’ notice page and tip form', () => {
  let w: WantedWorld;
  const post = (payload: string | Buffer, contentType: string, from = '10.20.30.40', noticeId = w.noticeId) =>
    w.t.app.inject({
      method: 'POST',
      url: `/n/${noticeId}/tips`,
      headers: { 'content-type': contentType },
      payload,
      remoteAddress: from,
    });
  const postText = (text: string, from?: string, extra = '') =>
    post(`text=${encodeURIComponent(text)}${extra}`, 'application/x-www-form-urlencoded', from);

  beforeAll(async () => {
    w = await startWantedWorld();
  });
  afterAll(() => w.close());

  it('when a notice was approved but never sent, then it has no public page', async () => {
    const unsent = await approvedNotice(w, noticeBody({ title: '尚未发送的通知' }));
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${unsent}` });
    expect(page.statusCode).toBe(404);
    expect(page.body).toContain('尚未发布');
    expect(page.body).not.toContain('尚未发送的通知');
  });

  it('shows a sent wanted notice made for a phone: picture, tel: links, the form, no script or inline style', async () => {
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('public, max-age=60');
    expect(page.body).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    expect(page.body).toContain(`<img class="photo" src="/media/${w.photoSha256}"`);
    expect(page.body).toContain('<a href="tel:02012345678">020-12345678</a>');
    expect(page.body).toContain('href="tel:110"');
    expect(page.body).toContain(`<form method="post" action="/n/${w.noticeId}/tips" enctype="multipart/form-data">`);
    for (const inline of ['<script', 'style=', '<style', 'onclick']) expect(page.body).not.toContain(inline);
    const css = await w.t.app.inject({ method: 'GET', url: '/n/assets/page.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect((await w.t.app.inject({ method: 'GET', url: `/media/${w.photoSha256}` })).statusCode).toBe(200);
  });

  it('refuses an empty tip and a 5,000-character tip with a plain message, keeping what was typed', async () => {
    const empty = await postText('   ');
    expect(empty.statusCode).toBe(400);
    expect(pageText(empty.body)).toContain('请填写线索内容');
    const long = '我看到'.repeat(1667).slice(0, 5000);
    const tooLong = await postText(long);
    expect(tooLong.statusCode).toBe(400);
    expect(pageText(tooLong.body)).toContain('线索内容最多 2000 字（现在 5000 字）');
    expect(tooLong.body).toContain(`>${long}</textarea>`);
    const badPhone = await postText('看到可疑人员', undefined, '&phone=call-me');
    expect(badPhone.statusCode).toBe(400);
    expect(pageText(badPhone.body)).toContain('联系电话格式不正确');
    expect(await tips()).toBe(0);
  });

  it('refuses a photo that is not an image, storing neither the tip nor the file', async () => {
    const form = formData(
      { text: '附上照片' },
      { name: 'photo', filename: 'photo.jpg', data: Buffer.from('MZ this is no picture'), mime: 'image/jpeg' },
    );
    const response = await post(form.body, form.contentType);
    expect(response.statusCode).toBe(400);
    expect(pageText(response.body)).toContain('照片：无法识别的图片文件');
    expect(response.body).toContain('>附上照片</textarea>');
    const cut = form.body.subarray(0, form.body.length - 20);
    const truncated = await post(cut, form.contentType);
    expect(truncated.statusCode, truncated.body + w.t.logs().slice(-1500)).toBe(400);
    expect(await tips()).toBe(0);
    expect(await tipPhotos()).toBe(0);
  });

  it('answers a tip for an unknown or malformed notice with a 404 page', async () => {
    const unknown = await post('text=x', 'application/x-www-form-urlencoded', undefined, '0123456789abcdef0123ffff');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/text\/html/);
    const malformed = await post('text=x', 'application/x-www-form-urlencoded', undefined, 'not-an-id');
    expect(malformed.statusCode).toBe(404);
  });

  it('when one sender posts 1,000 tips in a minute, then 5 are kept and the rest refused; others still get through', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 1000; i++) statuses.push((await postText(`线索 ${i}`, '10.66.66.66')).statusCode);
    expect(statuses.filter((s) => s === 303)).toHaveLength(5);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect(await TipModel.countDocuments({ text: /^线索 / })).toBe(5);
    const refused = await postText('再来一条', '10.66.66.66');
    expect(refused.statusCode).toBe(429);
    expect(refused.body).toContain('请');
    expect((await postText('另一位群众的线索', '10.77.77.77')).statusCode).toBe(303);
  });

  it('when the deadline day has ended, then the form closes with a plain message', async () => {
    w.clock.set('2025-07-31T16:30:00.000Z'); // 1 August, 00:30 in Asia/Shanghai
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(pageText(page.body)).toContain('协查通告已过截止日期，线索征集已结束');
    expect(page.body).not.toContain('<form');
    const before = await tips();
    const late = await postText('迟到的线索', '10.88.88.88');
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('线索征集已结束');
    expect(await tips()).toBe(before);
  });

  it('when its campaign is retracted, then the page shows only that it was withdrawn, and its picture stops', async () => {
    const followUp = await approvedNotice(w, noticeBody({ title: '更正说明' }));
    const retract = await w.t.request('POST', `/api/campaigns/${w.campaignId}/retract`, w.editor, {
      followUpNoticeId: followUp,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('此通知已撤回');
    for (const detail of ['五山街道', '身高约175厘米', '/media/', '李警官', '<form']) {
      expect(`${page.body}\n${pageText(page.body)}`).not.toContain(detail);
    }
    expect(page.headers['cache-control']).toBe('public, max-age=60');
    expect((await w.t.app.inject({ method: 'GET', url: `/media/${w.photoSha256}` })).statusCode).toBe(404);
    const tip = await postText('还有线索', '10.99.99.99');
    expect(tip.statusCode).toBe(409);
    expect(pageText(tip.body)).toContain('不再接收线索');
  });

  it('when a notice is archived, then its page shows only that it was withdrawn', async () => {
    const archived = await w.t.request('POST', `/api/notices/${w.noticeId}/archive`, w.editor);
    expect(archived.statusCode, archived.body).toBe(200);
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.body).toContain('此通知已撤回');
    expect(page.body).not.toContain('五山街道');
  });
});
