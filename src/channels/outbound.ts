// Where the server may post. A webhook group's URL is typed by staff, so without a check the
// server posts wherever it is told: its own ports, the database, the county's intranet, the
// cloud's metadata service (server-side request forgery). Loopback, private, link-local,
// metadata and other special-purpose addresses are refused unless the operator allows them
// (OUTBOUND_ALLOW_HOSTS: a county's own intranet platform, the tests' doubles).
//
// The check runs inside the connection's DNS lookup, on the very addresses the socket then
// connects to: a name that answers a public address to one query and 127.0.0.1 to the next
// (DNS rebinding) gains nothing, and a refused address is never connected to, so an answer
// cannot tell an open port from a closed one. Address literals skip the lookup in node:net,
// so http-post.ts checks them before the request with the same `permits`.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** The error code a refused lookup fails with (no address in the message: it may reach a log). */
export const OUTBOUND_REFUSED = 'ERR_OUTBOUND_ADDRESS_REFUSED';

/**
 * IANA's IPv4 and IPv6 special-purpose address registries (RFC 6890 and successors), plus
 * the cloud metadata addresses inside them: 169.254.169.254 (AWS, GCP, Azure; Tencent's
 * 169.254.0.23), 100.100.100.200 (Alibaba Cloud, in the shared range), fd00:ec2::254 (AWS).
 * Only globally routed unicast remains. IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged by the
 * IPv4 rules (net.BlockList does that); prefixes that embed an IPv4 address some other way
 * (IPv4-compatible, NAT64, 6to4, Teredo) are refused whole.
 */
const REFUSED_RANGES: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network": 0.0.0.0 reaches this host on Linux
  ['10.0.0.0', 8, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // shared address space (carrier NAT; Alibaba Cloud metadata)
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (cloud metadata)
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.0.2.0', 24, 'ipv4'], // documentation
  ['192.88.99.0', 24, 'ipv4'], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['198.51.100.0', 24, 'ipv4'], // documentation
  ['203.0.113.0', 24, 'ipv4'], // documentation
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and 255.255.255.255 broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback ::1, IPv4-compatible (deprecated)
  ['64:ff9b::', 96, 'ipv6'], // NAT64 well-known prefix
  ['64:ff9b:1::', 48, 'ipv6'], // NAT64 local use
  ['100::', 64, 'ipv6'], // discard only
  ['2001::', 23, 'ipv6'], // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['2002::', 16, 'ipv6'], // 6to4
  ['fc00::', 7, 'ipv6'], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

const REFUSED = new net.BlockList();
for (const [network, prefix, type] of REFUSED_RANGES) REFUSED.addSubnet(network, prefix, type);

function familyOf(address: string): 'ipv4' | 'ipv6' | null {
  const version = net.isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : null;
}

/** True for every address that is not globally routed unicast (and for anything not an address). */
export function isRefusedAddress(address: string): boolean {
  const family = familyOf(address);
  return family === null || REFUSED.check(address, family);
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address a host name resolves to (injectable so tests can script DNS answers). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

function refusedError(): NodeJS.ErrnoException {
  return Object.assign(new Error('outbound address refused'), { code: OUTBOUND_REFUSED });
}

/**
 * The outbound side of every channel: the allow-list, the lookup that enforces it, and the
 * kept-alive connections made under it (a connection is checked once, when it is made, so
 * connections made under one allow-list are never lent to another).
 */
export class Outbound {
  readonly #hosts = new Set<string>();
  readonly #ranges = new net.BlockList();
  readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  /** `allow`: host names (exact), addresses and CIDR ranges, as config.ts validated them. */
  constructor(
    allow: readonly string[],
    private readonly resolve: Resolver = systemResolver,
  ) {
    for (const entry of allow) {
      const [network = '', prefix] = entry.split('/');
      const family = familyOf(network);
      if (!family) this.#hosts.add(entry.toLowerCase());
      else if (prefix === undefined) this.#ranges.addAddress(network, family);
      else this.#ranges.addSubnet(network, Number(prefix), family);
    }
  }

  /** May a connection made for this URL host name go to this address? */
  permits(hostname: string, address: string): boolean {
    if (this.#hosts.has(hostname.toLowerCase())) return true;
    const family = familyOf(address);
    if (family === null) return false;
    return this.#ranges.check(address, family) || !REFUSED.check(address, family);
  }

  /** The lookup node:net calls before connecting: resolves, keeps the permitted addresses, refuses if none is left. */
  readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
    this.resolve(hostname).then(
      (answers) => {
        const permitted = answers.filter(
          (answer) => (wanted === 0 || answer.family === wanted) && this.permits(hostname, answer.address),
        );
        if (permitted.length === 0) return callback(refusedError(), '', 0);
        if (options.all) return callback(null, permitted);
        return callback(null, permitted[0]!.address, permitted[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
