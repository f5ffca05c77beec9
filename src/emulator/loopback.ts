import type { IncomingMessage } from 'node:http';

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`), lower case; undefined when it has none. */
function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const text = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(text);
  return plain?.[1];
}

/**
 * Whether a request names this machine in its `Host` header: `localhost`, a loopback address, or the address the
 * server is bound to. A page from another origin that rebinds its DNS name to 127.0.0.1 still sends its own name,
 * so this keeps such pages away from endpoints that change what every caller sees or that issue tokens.
 */
export function namesThisMachine(req: IncomingMessage, boundAddress?: string): boolean {
  const name = hostName(req.headers.host);
  if (name === undefined) return false;
  return (
    name === 'localhost' || isLoopback(name) || (boundAddress !== undefined && name === boundAddress.toLowerCase())
  );
}

/** A host to listen on that other machines can reach: anything but `localhost` or a loopback address. */
export function reachableFromOtherMachines(host: string): boolean {
  return !(host.toLowerCase() === 'localhost' || isLoopback(host));
}
