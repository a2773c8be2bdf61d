import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CATEGORIES } from '../../src/notices/categories.js';
import type { CardNotice } from '../../src/render/content.js';
import { WECOM_IMAGE_MAX_BYTES } from '../../src/channels/limits.js';
import { ImageCardRenderer, ImageTooLarge, renderImageCard } from '../../src/render/index.js';
import { distinctCommonHanzi } from '../helpers/hanzi.js';
import { photo } from '../helpers/images.js';
import { WANTED } from '../helpers/notices.js';

const LINK = 'https://jx.example.cn/l/Ab3dE9';
const notice = (overrides: Partial<CardNotice> = {}): CardNotice => ({
  category: 'anti_fraud',
  title: '警惕冒充公检法诈骗',
  body: '近期，我县发生多起**冒充公检法**诈骗案件。\n\n请记住：\n- 公检法机关不会通过电话办案\n- 没有所谓的“安全账户”',
  issuingUnit: '天河区公安分局',
  hotline: '110 / 96110',
  issuedOn: '2025-06-01',
  ...overrides,
});
const village = (name: string) => ({
  villageName: name,
  townshipName: '五山街道',
  officerName: '张警官',
  officerPhone: '13800138000',
});
const PNG_2MB = { format: 'png' as const, maxBytes: WECOM_IMAGE_MAX_BYTES };

describe('image cards', () => {
  it('draws a 750 px wide PNG under WeCom’s 2 MB limit whose header matches what it reports', async () => {
    const card = await renderImageCard({ notice: notice(), link: LINK }, PNG_2MB);
    const meta = await sharp(card.data).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 750, height: card.height });
    expect(card.width).toBe(750);
    expect(card.height).toBeGreaterThan(600);
    expect(card.height).toBeLessThan(2400);
    expect(card.data.length).toBeLessThanOrEqual(WECOM_IMAGE_MAX_BYTES);
    expect(card.mime).toBe('image/png');
    expect(card.missingGlyphs).toEqual([]);
  });

  it('draws JPEG when asked', async () => {
    const card = await renderImageCard(
      { notice: notice(), link: LINK },
      { format: 'jpeg', maxBytes: WECOM_IMAGE_MAX_BYTES },
    );
    expect((await sharp(card.data).metadata()).format).toBe('jpeg');
    expect(card.mime).toBe('image/jpeg');
  });

  it.each(CATEGORIES)('draws the %s theme with a photo', async (category) => {
    const card = await renderImageCard(
      {
        notice: notice({ category, wanted: category === 'wanted_clue' ? WANTED : null }),
        link: LINK,
        photos: [await photo(900, 600)],
      },
      PNG_2MB,
    );
    expect(card.data.length).toBeLessThanOrEqual(WECOM_IMAGE_MAX_BYTES);
    expect((await sharp(card.data).metadata()).width).toBe(750);
  });

  it('when the limit is tight, then it steps quality down to fit, and says so when it cannot', async () => {
    const input = { notice: notice({ body: '防'.repeat(600) }), link: LINK, photos: [await photo(1200, 800)] };
    const full = await renderImageCard(input, PNG_2MB);
    const tight = Math.floor(full.data.length * 0.6);
    const stepped = await renderImageCard(input, { format: 'png', maxBytes: tight });
    expect(stepped.data.length).toBeLessThanOrEqual(tight);
    expect(stepped.quality).not.toBe('full');
    const jpegFull = await renderImageCard(input, { format: 'jpeg', maxBytes: WECOM_IMAGE_MAX_BYTES });
    const jpegTight = Math.floor(jpegFull.data.length * 0.75);
    const jpeg = await renderImageCard(input, { format: 'jpeg', maxBytes: jpegTight });
    expect(jpeg.data.length).toBeLessThanOrEqual(jpegTight);
    expect(jpeg.quality).not.toBe(jpegFull.quality);
    await expect(renderImageCard(input, { format: 'jpeg', maxBytes: 2_000 })).rejects.toBeInstanceOf(ImageTooLarge);
  });

  it('when the body is 20,000 characters, then the card is cut to a readable height and points to the QR code', async () => {
    const card = await renderImageCard({ notice: notice({ body: '请提高警惕，'.repeat(3334) }), link: LINK }, PNG_2MB);
    expect(card.height).toBeLessThan(2000);
    expect(card.data.length).toBeLessThanOrEqual(WECOM_IMAGE_MAX_BYTES);
  });

  it('draws every one of 500 distinct common characters with the shipped font (nothing missing)', async () => {
    const chars = distinctCommonHanzi(500);
    const body = Array.from({ length: 10 }, (_, i) => chars.slice(i * 50, i * 50 + 50).join('')).join('\n\n');
    const card = await renderImageCard({ notice: notice({ body }), link: LINK }, PNG_2MB);
    expect(card.missingGlyphs).toEqual([]);
    expect(card.height).toBeGreaterThan(900);
  });

  it('when a notice has emoji and characters the font lacks, then it still draws and lists them', async () => {
    const card = await renderImageCard(
      {
        notice: notice({ title: '注意😀安全', body: '吉祥的“𠮷”字👨‍👩‍👧和🇨🇳国旗' }),
        link: LINK,
        personal: village('𠮷家村'),
      },
      PNG_2MB,
    );
    expect((await sharp(card.data).metadata()).width).toBe(750);
    expect(card.missingGlyphs).toEqual(expect.arrayContaining(['😀', '𠮷']));
  });

  it('when personalised, then the cached path draws exactly what a full render draws', async () => {
    const input = { notice: notice(), link: LINK, photos: [await photo()], personal: village('华工社区') };
    const cached = new ImageCardRenderer({ cacheBytes: 64 * 1024 * 1024 });
    const uncached = new ImageCardRenderer({ cacheBytes: 0 });
    await cached.render({ ...input, personal: village('预热村') }, PNG_2MB); // fills the cache
    const viaCache = await cached.render(input, PNG_2MB);
    const whole = await uncached.render(input, PNG_2MB);
    expect(viaCache.sha256).toBe(whole.sha256);
  });

  it('when two villages get the same notice, then only the strip at the bottom differs', async () => {
    const base = { notice: notice(), link: LINK };
    const a = await renderImageCard({ ...base, personal: village('华工社区') }, PNG_2MB);
    const b = await renderImageCard({ ...base, personal: village('松柏社区') }, PNG_2MB);
    expect(a.sha256).not.toBe(b.sha256);
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    const rawA = await sharp(a.data).raw().toBuffer();
    const rawB = await sharp(b.data).raw().toBuffer();
    const rowBytes = rawA.length / a.height;
    let firstDifferentRow = -1;
    for (let row = 0; row < a.height; row++) {
      if (
        !rawA.subarray(row * rowBytes, (row + 1) * rowBytes).equals(rawB.subarray(row * rowBytes, (row + 1) * rowBytes))
      ) {
        firstDifferentRow = row;
        break;
      }
    }
    expect(firstDifferentRow).toBeGreaterThan(a.height - 120);
  });

  it('when the same card is drawn twice, then the bytes are identical (content hash is stable)', async () => {
    const input = { notice: notice({ category: 'anti_theft' }), link: LINK };
    const first = await new ImageCardRenderer({ cacheBytes: 0 }).render(input, PNG_2MB);
    const second = await new ImageCardRenderer({ cacheBytes: 0 }).render(input, PNG_2MB);
    expect(second.sha256).toBe(first.sha256);
  });

  it('puts a readable QR code of the link on the card', async () => {
    const card = await renderImageCard({ notice: notice(), link: LINK }, PNG_2MB);
    // The QR code sits bottom-left inside a white quiet zone: dark and light modules both present.
    const { data, info } = await sharp(card.data)
      .extract({ left: 40, top: card.height - 250, width: 184, height: 184 })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const dark = data.filter((v) => v < 64).length / (info.width * info.height);
    expect(dark).toBeGreaterThan(0.25);
    expect(dark).toBeLessThan(0.75);
  });
});
