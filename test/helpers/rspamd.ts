/**
 * A real rspamd (Debian's, installed by .ci/run) on a loopback port for a test, configured by the
 * same builder as production and `mxkit local` (relay/src/local/rspamd.ts), its resolver pointed at
 * the test's DNS. Test patterns are on: GTUBE is `reject`, its "YJS" variant `add header` (score =
 * flagScore), "ZJS" `rewrite subject`.
 */
import { rmSync } from 'node:fs';
import { findRspamd, startRspamd, type RspamdProcess } from '../../relay/src/local/rspamd';
import { tempDir } from './relay';

export { GTUBE } from '../../relay/src/spam/gtube';
export const GTUBE_ADD_HEADER = 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
export const GTUBE_REWRITE_SUBJECT = 'ZJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export const TEST_FLAG_SCORE = 6;
export const TEST_REJECT_SCORE = 15;

export interface TestRspamd extends RspamdProcess {
  dir: string;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

export async function startTestRspamd(dnsServer = '127.0.0.1:9'): Promise<TestRspamd> {
  const binary = findRspamd();
  if (!binary) throw new Error('rspamd is not installed: apt-get install rspamd (.ci/run installs it)');
  const dir = tempDir('mxkit-rspamd-');
  const rspamd = await startRspamd({ binary, dir, port: 0, dnsServer, flagScore: TEST_FLAG_SCORE, rejectScore: TEST_REJECT_SCORE }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    ...rspamd,
    dir,
    close: async () => {
      await rspamd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
