// Encodes a finished card under a channel's byte limit, stepping quality down when needed
// (PNG: full colour, then a 256- and a 64-colour palette; JPEG: quality 88 → 40).
import type { PngOptions, Sharp } from 'sharp';

export type ImageFormat = 'png' | 'jpeg';

export class ImageTooLarge extends Error {
  constructor(
    readonly smallestBytes: number,
    readonly maxBytes: number,
  ) {
    super(`smallest encoding is ${smallestBytes} bytes, limit ${maxBytes}`);
    this.name = 'ImageTooLarge';
  }
}

const PNG_STEPS: { quality: string; options: PngOptions }[] = [
  // zlib level 1 without adaptive filtering: a card of flat colours encodes several times
  // faster than level 6; ~237 KB instead of ~169 KB (level 3), far under every image limit,
  // and what takes personalised cards past 150 a second on 2 cores (bench/cards.ts).
  { quality: 'full', options: { compressionLevel: 1, adaptiveFiltering: false } },
  { quality: 'palette-256', options: { compressionLevel: 9, palette: true, colours: 256, effort: 3 } },
  { quality: 'palette-64', options: { compressionLevel: 9, palette: true, colours: 64, effort: 3 } },
];
const JPEG_QUALITIES = [88, 80, 70, 60, 50, 40] as const;

export async function encodeUnder(
  pipeline: () => Sharp,
  format: ImageFormat,
  maxBytes: number,
): Promise<{ data: Buffer; quality: string }> {
  let smallest = Number.POSITIVE_INFINITY;
  const steps =
    format === 'png'
      ? PNG_STEPS.map((step) => ({ quality: step.quality, run: () => pipeline().png(step.options) }))
      : JPEG_QUALITIES.map((quality) => ({
          quality: `q${quality}`,
          run: () =>
            pipeline().flatten({ background: '#ffffff' }).jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0' }),
        }));
  for (const step of steps) {
    const data = await step.run().toBuffer();
    if (data.length <= maxBytes) return { data, quality: step.quality };
    smallest = Math.min(smallest, data.length);
  }
  throw new ImageTooLarge(smallest, maxBytes);
}
