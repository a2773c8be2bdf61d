// Client addresses as the per-address limits and the operations endpoints see them.
import { BlockList, isIPv6 } from 'node:net';

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const privateNets = new BlockList();
for (const [net, bits] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['127.0.0.0', 8],
] as const) {
  privateNets.addSubnet(net, bits, 'ipv4');
}
privateNets.addAddress('::1', 'ipv6');
privateNets.addSubnet('fc00::', 7, 'ipv6');
privateNets.addSubnet('fe80::', 10, 'ipv6');

function check(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const ip = plain(address);
  try {
    return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}

/** A loopback peer: the same host. */
export function isLoopbackAddress(address: string | undefined): boolean {
  return check(loopback, address);
}

/** Loopback, private, shared (CGNAT), link-local or unique-local: where a reverse proxy sits. */
export function isPrivateAddress(address: string | undefined): boolean {
  return check(privateNets, address);
}

/**
 * The key a per-address limit counts under: an IPv4 address as it is, an IPv6 address by its
 * /64 (one subscriber gets a whole /64, so counting single addresses gives them 2^64 tries).
 */
export function addressKey(address: string): string {
  const ip = plain(address);
  if (!isIPv6(ip) || isLoopbackAddress(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
