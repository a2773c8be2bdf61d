// The one withdrawal rule that officer tasks, the notifier and progress follow.
import { describe, expect, it } from 'vitest';
import { withdrawalReason } from '../../src/campaigns/withdrawal.js';

const at = new Date('2026-03-01T02:00:00Z');
const approved = { status: 'approved', retractedAt: null };
const live = { status: 'approved', retractedAt: null, caseOutcomes: [] };

describe('withdrawal rule', () => {
  it('a live campaign of a live notice is not withdrawn; neither is a paused or completed one', () => {
    expect(withdrawalReason(approved, live)).toBeNull();
    expect(withdrawalReason({ status: 'paused' }, live)).toBeNull();
    expect(withdrawalReason({ status: 'completed' }, live)).toBeNull();
  });

  it('names why: a case outcome, a retraction (of any campaign of the notice), an archived notice, a cancel', () => {
    expect(withdrawalReason(approved, { ...live, caseOutcomes: [{ outcome: 'caught' }] })).toBe('case_closed');
    expect(withdrawalReason({ status: 'cancelled', retractedAt: at }, live)).toBe('retracted');
    // Retracted through another campaign: only the notice says so.
    expect(withdrawalReason(approved, { ...live, retractedAt: at })).toBe('retracted');
    expect(withdrawalReason(approved, { ...live, status: 'archived' })).toBe('archived');
    expect(withdrawalReason({ status: 'cancelled', retractedAt: null }, live)).toBe('cancelled');
  });

  it('when several hold, the case outcome wins, then the retraction, the archive, the cancel', () => {
    const everything = { status: 'archived', retractedAt: at, caseOutcomes: [{}] };
    expect(withdrawalReason({ status: 'cancelled', retractedAt: at }, everything)).toBe('case_closed');
    expect(withdrawalReason({ status: 'cancelled', retractedAt: at }, { ...everything, caseOutcomes: [] })).toBe(
      'retracted',
    );
    expect(withdrawalReason({ status: 'cancelled' }, { status: 'archived', retractedAt: null })).toBe('archived');
  });

  it('a campaign or notice that cannot be read withdraws nothing by itself', () => {
    expect(withdrawalReason(null, null)).toBeNull();
    expect(withdrawalReason({ status: 'cancelled' }, null)).toBe('cancelled');
  });
});
