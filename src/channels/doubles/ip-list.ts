// IP allow-lists as robots take them: exact addresses, wildcards (123.12.1.*) and CIDR (123.1.1.1/24).
function toNumber(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function ipAllowed(address: string, allowList: readonly string[] | undefined): boolean {
  if (!allowList || allowList.length === 0) return true;
  const ip = address.replace(/^::ffff:/, '');
  const value = toNumber(ip);
  return allowList.some((entry) => {
    if (entry.includes('*'))
      return new RegExp(`^${entry.replaceAll('.', '\\.').replaceAll('*', '\\d{1,3}')}$`).test(ip);
    if (entry.includes('/')) {
      const [base, bitsText] = entry.split('/');
      const baseValue = toNumber(base ?? '');
      const bits = Number(bitsText);
      if (value === null || baseValue === null || !(bits >= 0 && bits <= 32)) return false;
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      return (value & mask) >>> 0 === (baseValue & mask) >>> 0;
    }
    return entry === ip;
  });
}
