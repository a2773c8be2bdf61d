// A small region tree with two counties, so scope tests have an inside and an outside.
import type { TestApp } from './app.js';

export const TREE = {
  province: { code: '440000', name: '广东省', parentCode: '000000' },
  city: { code: '440100', name: '广州市', parentCode: '440000' },
  countyA: { code: '440106', name: '天河区', parentCode: '440100' },
  countyB: { code: '440111', name: '白云区', parentCode: '440100' },
  townshipA: { code: '440106001', name: '五山街道', parentCode: '440106' },
  townshipB: { code: '440111002', name: '三元里街道', parentCode: '440111' },
  villageA: { code: '440106001001', name: '华工社区', parentCode: '440106001' },
  villageB: { code: '440111002003', name: '松柏社区', parentCode: '440111002' },
} as const;

export async function createRegionTree(t: TestApp): Promise<typeof TREE> {
  await addRegions(t, Object.values(TREE));
  return TREE;
}

/** Adds these regions (parents first) through the API; returns the codes of the villages among them. */
export async function addRegions(
  t: TestApp,
  regions: readonly { code: string; name: string; parentCode: string }[],
): Promise<string[]> {
  for (const region of regions) {
    const response = await t.request('POST', '/api/regions', t.adminToken, region);
    if (response.statusCode !== 201) throw new Error(`region ${region.code}: ${response.body}`);
  }
  return regions.filter((region) => region.code.length === 12).map((region) => region.code);
}
