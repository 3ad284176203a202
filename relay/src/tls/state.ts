/**
 * The certificate the relay serves right now, and the expiry watch on it: the metric
 * `mxkit_tls_certificate_expiry_seconds{source}` (seconds left, negative once expired) and a
 * warning log from 14 days before expiry, repeated at most daily. Renewal (RFC 8555) normally
 * happens long before — at a third of the lifetime left — so the warning means renewal is failing.
 */
import type { Gauge } from 'prom-client';
import type { TlsMaterial } from './material';
import type { Logger } from '../ops/logger';
import { describeCertificate, type CertificateInfo, type CertificateSource } from './certificate';

export const EXPIRY_WARNING_MS = 14 * 86_400_000;
const WARNING_REPEAT_MS = 86_400_000;

export interface ServedCertificate {
  material: TlsMaterial;
  info: CertificateInfo;
  source: CertificateSource;
}

export class CertificateState {
  private served: ServedCertificate;
  private lastWarning: { serial: string; at: number } | undefined;

  constructor(
    private readonly deps: { logger: Logger; gauge: Gauge<'source'>; now: () => number },
    material: TlsMaterial,
    source: CertificateSource,
  ) {
    this.served = { material, info: describeCertificate(material), source };
    this.check();
  }

  get current(): ServedCertificate {
    return this.served;
  }

  /** Records a newly installed certificate (the caller has swapped it into the listeners). */
  install(material: TlsMaterial, source: CertificateSource): ServedCertificate {
    this.served = { material, info: describeCertificate(material), source };
    this.deps.gauge.reset();
    this.check();
    return this.served;
  }

  /** Updates the metric and warns when expiry is near. Called on every install and periodically. */
  check(): void {
    const now = this.deps.now();
    const { info, source } = this.served;
    const left = info.notAfter - now;
    this.deps.gauge.set({ source }, Math.round(left / 1000));
    if (left > EXPIRY_WARNING_MS) return;
    const last = this.lastWarning;
    if (last && last.serial === info.serial && now - last.at < WARNING_REPEAT_MS) return;
    this.lastWarning = { serial: info.serial, at: now };
    this.deps.logger.warn(
      { serial: info.serial, source, notAfter: new Date(info.notAfter).toISOString(), daysLeft: Math.floor(left / 86_400_000) },
      left > 0 ? 'TLS certificate expires within 14 days' : 'TLS certificate has expired',
    );
  }
}
