import { X509Certificate, createSign, createVerify } from 'node:crypto';
import { createSelfSignedCertificate } from './self-signed-certificate.js';

describe(createSelfSignedCertificate.name, () => {
  it('makes a certificate node:crypto parses, self-signed, whose key verifies signatures of the private key', () => {
    const notBefore = new Date('2025-01-01T00:00:00Z');
    const notAfter = new Date('2055-06-01T12:30:00Z'); // past 2049: GeneralizedTime
    const { keyPem, certPem } = createSelfSignedCertificate({
      commonName: 'sns.test',
      notBefore,
      notAfter,
    });
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('CN=sns.test');
    expect(cert.issuer).toBe('CN=sns.test');
    expect(new Date(cert.validFrom).toISOString()).toBe(
      notBefore.toISOString(),
    );
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString());
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    for (const algorithm of ['RSA-SHA1', 'RSA-SHA256']) {
      const signature = createSign(algorithm).update('payload').sign(keyPem);
      expect(
        createVerify(algorithm)
          .update('payload')
          .verify(cert.publicKey, signature),
      ).toBe(true);
    }
  });

  it('a fresh key and serial per call', () => {
    const a = new X509Certificate(
      createSelfSignedCertificate({ modulusLength: 1024 }).certPem,
    );
    const b = new X509Certificate(
      createSelfSignedCertificate({ modulusLength: 1024 }).certPem,
    );
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
    expect(a.verify(b.publicKey)).toBe(false);
  });

  it('encodes every serial in DER, whatever its leading bytes (one random serial in 128 began with 0x00)', () => {
    for (const [hex, expected] of [
      ['0077aa', '77AA'],
      ['000001', '01'],
      ['80ff', '80FF'],
      ['0080ff', '80FF'],
    ]) {
      const cert = new X509Certificate(
        createSelfSignedCertificate({
          modulusLength: 1024,
          serialNumber: Buffer.from(hex, 'hex'),
        }).certPem,
      );
      expect(cert.serialNumber, hex).toBe(expected);
    }
  });
});
