// Renders one notice for N villages (default 5,000) two ways and compares:
//   full          every village's card drawn whole (no cache of the shared part)
//   personalised  the shared part drawn once (cached by content hash), then per village
//                 only the strip with village, township and officer, composited and encoded
// Prints progress on stderr, figures on stdout, and ends with one JSON line.
// Usage: npm run bench:cards [-- --villages=5000 --concurrency=2]
import { availableParallelism, loadavg } from 'node:os';
import sharp from 'sharp';
import { WECOM_IMAGE_MAX_BYTES } from '../src/channels/limits.js';
import { ImageCardRenderer, type ImageCardInput } from '../src/render/index.js';

const arg = (name: string, fallback: number) => {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return raw ? Number(raw) : fallback;
};
const VILLAGES = arg('villages', 5000);
// Two cards in flight per core keeps both cores busy; more only adds memory (libvips runs
// one thread per pipeline here).
const CONCURRENCY = arg('concurrency', availableParallelism());
const OPTIONS = { format: 'png' as const, maxBytes: WECOM_IMAGE_MAX_BYTES };

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

async function makeInputs(): Promise<ImageCardInput[]> {
  const photo = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#2e6da4' } })
    .composite([
      { input: { create: { width: 640, height: 360, channels: 3, background: '#f2c14e' } }, top: 180, left: 320 },
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
  const notice = {
    category: 'anti_fraud' as const,
    title: '警惕冒充公检法诈骗！接到“警察”电话要求转账的，一律是诈骗',
    body: [
      '近期，我县发生多起**冒充公检法**诈骗案件。骗子自称警察、检察官，以您涉嫌洗钱、涉嫌贩毒为由，要求您将资金转入所谓“安全账户”配合调查。',
      '请记住：',
      '- 公检法机关不会通过电话、微信、QQ办案',
      '- 公检法机关没有所谓的“安全账户”',
      '- 不要向任何陌生人透露银行卡号、密码和短信验证码',
      '如接到此类电话，请立即挂断，并拨打 110 或 96110 咨询。',
    ].join('\n'),
    issuingUnit: '天河区公安分局',
    hotline: '110 / 96110',
    issuedOn: '2025-06-01',
  };
  return Array.from({ length: VILLAGES }, (_, i) => ({
    notice,
    link: 'https://jx.example.cn/l/Ab3dE9',
    photos: [photo],
    personal: {
      villageName: `第${i + 1}村民委员会`,
      townshipName: `第${(i % 17) + 1}镇`,
      officerName: `民警${String.fromCharCode(0x4e00 + (i % 500))}`,
      officerPhone: `138${String(i).padStart(8, '0')}`,
    },
  }));
}

async function run(label: string, renderer: ImageCardRenderer, inputs: ImageCardInput[]) {
  let next = 0;
  let done = 0;
  let bytes = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const worker = async () => {
    while (next < inputs.length) {
      const input = inputs[next++]!;
      const card = await renderer.render(input, OPTIONS);
      if (card.data.length > OPTIONS.maxBytes) throw new Error(`card over the limit: ${card.data.length}`);
      bytes += card.data.length;
      done += 1;
      if (done % 500 === 0 || done === inputs.length) {
        const seconds = (performance.now() - started) / 1000;
        process.stderr.write(`[${label}] ${done}/${inputs.length} cards, ${(done / seconds).toFixed(1)} cards/s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    ms,
    /** CPU time (this process, all threads, user + system) per card: what the load of others does not change. */
    cpuMsPerCard: (cpu.user + cpu.system) / 1000 / inputs.length,
    msPerCard: ms / inputs.length,
    cardsPerSecond: (inputs.length * 1000) / ms,
    avgBytes: bytes / inputs.length,
  };
}

const loadBefore = loadavg()[0]!;
const inputs = await makeInputs();
process.stderr.write(
  `rendering one notice for ${VILLAGES} villages, ${CONCURRENCY} at a time, on ${availableParallelism()} cores (libvips threads: ${sharp.concurrency()})\n`,
);
// Warm up both code paths (font loading, libvips start) outside the timings.
await new ImageCardRenderer({ cacheBytes: 0 }).render(inputs[0]!, OPTIONS);

const full = await run('full', new ImageCardRenderer({ cacheBytes: 0 }), inputs);
process.stderr.write(
  `rss after full: ${Math.round(process.memoryUsage().rss / 1048576)} MB, peak so far ${Math.round(peakRss / 1048576)} MB\n`,
);
const personalised = await run('personalised', new ImageCardRenderer({ cacheBytes: 64 * 1024 * 1024 }), inputs);
clearInterval(sampler);
peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);

console.log(
  `full render:          ${full.msPerCard.toFixed(2)} ms/card (${full.cardsPerSecond.toFixed(1)} cards/s), avg ${(full.avgBytes / 1024).toFixed(0)} KB`,
);
console.log(
  `personalised render:  ${personalised.msPerCard.toFixed(2)} ms/card (${personalised.cardsPerSecond.toFixed(1)} cards/s), avg ${(personalised.avgBytes / 1024).toFixed(0)} KB`,
);
console.log(
  JSON.stringify({
    full_ms_per_card: Number(full.msPerCard.toFixed(2)),
    personalised_ms_per_card: Number(personalised.msPerCard.toFixed(2)),
    ratio: Number((full.msPerCard / personalised.msPerCard).toFixed(2)),
    cards_per_s: Number(personalised.cardsPerSecond.toFixed(1)),
    // Load-independent: CPU time per card, and what the machine's cores would make if they were ours.
    full_cpu_ms_per_card: Number(full.cpuMsPerCard.toFixed(2)),
    personalised_cpu_ms_per_card: Number(personalised.cpuMsPerCard.toFixed(2)),
    cpu_ratio: Number((full.cpuMsPerCard / personalised.cpuMsPerCard).toFixed(2)),
    cards_per_s_on_idle_cores: Number(((availableParallelism() * 1000) / personalised.cpuMsPerCard).toFixed(1)),
    load_average: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
    peak_rss_mb: Math.round(peakRss / 1024 / 1024),
  }),
);
