import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('notice lifecycle: draft → in review → approved → archived', () => {
  let t: TestApp;
  let editor: { token: string; id: string };
  let otherEditor: { token: string; id: string };
  let reviewer: { token: string; id: string };
  let secondReviewer: { token: string; id: string };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editor = await t.userToken('editor', TREE.countyA.code);
    otherEditor = await t.userToken('editor', TREE.countyA.code);
    reviewer = await t.userToken('reviewer', TREE.countyA.code);
    secondReviewer = await t.userToken('reviewer', TREE.countyA.code);
  });
  afterAll(() => t.close());

  async function createDraft(overrides: Record<string, unknown> = {}, token = editor.token) {
    const response = await t.request('POST', '/api/notices', token, noticeBody(overrides));
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  it('when an editor creates a notice, then it is a draft of version 1 in their region with the default hotline', async () => {
    const notice = await createDraft();
    expect(notice).toMatchObject({ status: 'draft', version: 1, approvedVersion: null, regionCode: TREE.countyA.code });
    expect(notice.content.hotline).toBe('96110');
    expect(notice.authorId).toBe(editor.id);
    const general = await createDraft({ category: 'general' });
    expect(general.content.hotline).toBe('110');
  });

  it('walks a notice through review and approval, freezing the approved version', async () => {
    const notice = await createDraft();
    const submitted = await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    expect(submitted.json().status).toBe('in_review');
    const approved = await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, { note: '同意' });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', approvedVersion: 1 });
    expect(approved.json().versions).toEqual([expect.objectContaining({ version: 1, approvedBy: reviewer.id })]);

    const frozen = await t.ctx.notices.getApprovedVersion(t.ctx.regions.rootScope(), notice.id);
    expect(frozen).toMatchObject({ version: 1, approvedBy: reviewer.id, content: { title: notice.content.title } });
  });

  it('approves with no request body at all (the note is optional)', async () => {
    const notice = await createDraft();
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    const response = await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().status).toBe('approved');
  });

  it('refuses to let anyone approve a notice they wrote, even an admin who is also a reviewer', async () => {
    const own = await createDraft({}, t.adminToken);
    await t.request('POST', `/api/notices/${own.id}/submit`, t.adminToken);
    const selfApproval = await t.request('POST', `/api/notices/${own.id}/approve`, t.adminToken, {});
    expect(selfApproval.statusCode).toBe(403);
    expect(selfApproval.json().message).toContain('不能审核自己');
    expect((await t.request('GET', `/api/notices/${own.id}`, t.adminToken)).json().status).toBe('in_review');
  });

  it('refuses approval by a reviewer who edited the version, even if someone else submitted it', async () => {
    const notice = await createDraft();
    const reviewerAsAdmin = await t.userToken('admin', TREE.countyA.code);
    const edit = await t.request('PATCH', `/api/notices/${notice.id}`, reviewerAsAdmin.token, {
      title: '管理员改过的标题',
    });
    expect(edit.statusCode, edit.body).toBe(200);
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    const response = await t.request('POST', `/api/notices/${notice.id}/approve`, reviewerAsAdmin.token, {});
    expect(response.statusCode).toBe(403);
  });

  it('when an approved notice is edited, then it becomes a new draft version and the approved one stays sendable', async () => {
    const notice = await createDraft();
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, {});

    const edited = await t.request('PATCH', `/api/notices/${notice.id}`, otherEditor.token, { title: '第二版标题' });
    expect(edited.json()).toMatchObject({
      status: 'draft',
      version: 2,
      approvedVersion: 1,
      editorIds: [otherEditor.id],
    });
    const stillSendable = await t.ctx.notices.getApprovedVersion(t.ctx.regions.rootScope(), notice.id);
    expect(stillSendable.content.title).toBe(notice.content.title);

    await t.request('POST', `/api/notices/${notice.id}/submit`, otherEditor.token);
    // The first author did not write version 2, so reviewing it is not their own work.
    await t.request('POST', `/api/notices/${notice.id}/approve`, secondReviewer.token, {});
    const v2 = await t.ctx.notices.getApprovedVersion(t.ctx.regions.rootScope(), notice.id);
    expect(v2).toMatchObject({ version: 2, content: { title: '第二版标题' } });

    const old = await t.request('GET', `/api/notices/${notice.id}/versions/1`, editor.token);
    expect(old.statusCode).toBe(200);
    expect(old.json().content.title).toBe(notice.content.title);
  });

  it('when a reviewer rejects, then the notice returns to draft with the reason, and can be fixed and resubmitted', async () => {
    const notice = await createDraft();
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    const rejected = await t.request('POST', `/api/notices/${notice.id}/reject`, reviewer.token, {
      reason: '热线号码有误',
    });
    expect(rejected.json()).toMatchObject({ status: 'draft', reviewNote: '热线号码有误' });
    const fixed = await t.request('PATCH', `/api/notices/${notice.id}`, editor.token, { hotline: '110' });
    expect(fixed.json()).toMatchObject({ status: 'draft', version: 1 });
    expect((await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token)).json().status).toBe('in_review');
  });

  it('refuses to edit a notice in review or archived, and to send an archived notice', async () => {
    const notice = await createDraft();
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    const editInReview = await t.request('PATCH', `/api/notices/${notice.id}`, editor.token, { title: '改' });
    expect(editInReview.statusCode).toBe(409);
    await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, {});
    const archived = await t.request('POST', `/api/notices/${notice.id}/archive`, editor.token);
    expect(archived.json().status).toBe('archived');
    expect((await t.request('PATCH', `/api/notices/${notice.id}`, editor.token, { title: '改' })).statusCode).toBe(409);
    await expect(t.ctx.notices.getApprovedVersion(t.ctx.regions.rootScope(), notice.id)).rejects.toThrow('已归档');
    // Old versions of an archived notice stay readable.
    expect((await t.request('GET', `/api/notices/${notice.id}/versions/1`, editor.token)).statusCode).toBe(200);
  });

  it('refuses to approve a draft (409)', async () => {
    const notice = await createDraft();
    expect((await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, {})).statusCode).toBe(409);
  });

  it('when two reviewers decide at the same moment, then exactly one decision counts', async () => {
    for (let round = 0; round < 5; round++) {
      const notice = await createDraft();
      await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
      const [approval, other] = await Promise.all([
        t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, {}),
        round % 2 === 0
          ? t.request('POST', `/api/notices/${notice.id}/approve`, secondReviewer.token, {})
          : t.request('POST', `/api/notices/${notice.id}/reject`, secondReviewer.token, { reason: '不同意' }),
      ]);
      expect([approval!.statusCode, other!.statusCode].sort()).toEqual([200, 409]);
      const final = (await t.request('GET', `/api/notices/${notice.id}`, editor.token)).json();
      const winner = approval!.statusCode === 200 ? approval! : other!;
      expect(final.status).toBe(winner.json().status);
      expect(final.versions.length).toBe(final.status === 'approved' ? 1 : 0);
    }
  });

  it('lists notices of the caller’s scope only, filtered by status and by approval', async () => {
    const outside = await t.request(
      'POST',
      '/api/notices',
      t.adminToken,
      noticeBody({ regionCode: TREE.countyB.code, title: '白云区通知' }),
    );
    expect(outside.statusCode).toBe(201);
    const list = await t.request('GET', '/api/notices?limit=200', editor.token);
    expect(list.statusCode).toBe(200);
    const titles = list.json().map((n: { title: string }) => n.title);
    expect(titles).not.toContain('白云区通知');
    const approved = (await t.request('GET', '/api/notices?approved=true', editor.token)).json();
    expect(approved.length).toBeGreaterThan(0);
    expect(approved.every((n: { approvedVersion: number | null }) => n.approvedVersion !== null)).toBe(true);
    const drafts = (await t.request('GET', '/api/notices?status=draft', editor.token)).json();
    expect(drafts.every((n: { status: string }) => n.status === 'draft')).toBe(true);
    expect((await t.request('GET', `/api/notices/${outside.json().id}`, editor.token)).statusCode).toBe(404);
  });

  it('records every step in the audit log', async () => {
    const notice = await createDraft();
    await t.request('POST', `/api/notices/${notice.id}/submit`, editor.token);
    await t.request('POST', `/api/notices/${notice.id}/approve`, reviewer.token, {});
    const entries = await t.ctx.audit.list(t.ctx.regions.rootScope(), { limit: 200 });
    const actions = entries.filter((e) => e.targetId === notice.id).map((e) => e.action);
    expect(actions.sort()).toEqual(['notice.approve', 'notice.create', 'notice.submit']);
  });
});
