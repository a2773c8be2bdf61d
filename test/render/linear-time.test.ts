// Notice text is user input, rendered by the worker for every group: tidying a card must
// take time in proportion to its length (issue 15, finding 6).
import { describe, expect, it } from 'vitest';
import { renderTextCard } from '../../src/render/index.js';

describe('text card tidying', () => {
  it('when a body holds 200,000 spaces between two words, then a card renders in linear time', () => {
    const notice = {
      category: 'general' as const,
      title: '通知',
      body: `x${' '.repeat(200_000)}x`,
      issuingUnit: '公安局',
      hotline: '110',
      issuedOn: '2026-01-01',
    };
    const started = performance.now();
    const card = renderTextCard({ notice, link: 'https://jx.example/n/1' }, 'text', { maxBytes: 1_000_000 });
    // /[ \t]+\n/g on this text: about 20 s.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(card.content).toContain('x');
  });

  it('still removes spaces at line ends and keeps at most one blank line', () => {
    const notice = {
      category: 'general' as const,
      title: '通知',
      body: '第一段  \t\n\n\n\n第二段 ',
      issuingUnit: '公安局',
      hotline: '110',
      issuedOn: '2026-01-01',
    };
    const card = renderTextCard({ notice, link: 'https://jx.example/n/1' }, 'text', { maxBytes: 10_000 });
    expect(card.content).not.toMatch(/[ \t]\n/);
    expect(card.content).not.toMatch(/\n\n\n/);
  });
});
