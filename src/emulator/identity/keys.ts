import { createHash, generateKeyPair, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generate as generateCertificate } from 'selfsigned';

export function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant time: digests first, so neither length nor content leaks through timing. */
export function secretsMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function keyPair(type: 'rsa' | 'ec'): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (error !== null) reject(error);
      else resolve({ publicKey, privateKey });
    };
    if (type === 'rsa') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else generateKeyPair('ec', { namedCurve: 'P-256' }, done);
  });
}

/**
 * The TLS certificate (selfsigned v5 returns a Promise; awaiting also covers older synchronous versions).
 * An EC key of our own is passed in because selfsigned's own RSA generation in JavaScript costs ~250 ms.
 */
export async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const { publicKey, privateKey } = await keyPair('ec');
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const now = Date.now();
  const result = await generateCertificate([{ name: 'commonName', value: 'Dataverse emulator identity (localhost)' }], {
    keyType: 'ec',
    keyPair: { privateKey: key, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * 24 * 3600_000),
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { key, cert: result.cert };
}
