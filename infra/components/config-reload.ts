/**
 * Config changes reach the running relay without a new instance: an SSM State Manager association
 * (config-push.ts) runs the command document below on the host whenever the config revision
 * changes. The document waits for cloud-init (a fresh instance runs it while booting), then runs
 * the reload script that the boot configuration installed. The script fetches the parameters
 * again (the same mxkit-prepare that runs before every start), sends the relay SIGHUP, and waits
 * until the relay's metrics show the new file's revision: a config the relay refuses fails the
 * association, and so `pulumi up`. A change only a restart applies (relay/src/config/reload.ts:
 * listeners, spool folder, TLS mode, MTA-STS) restarts the service, which drains open sessions.
 * Pure: plain values in, text out.
 */
import { HOST_CONFIG_FILE } from '../builders/relay-config';
import { PREPARE_SCRIPT, RELAY_UNIT, relayContainer } from './boot-units';

export const RELOAD_SCRIPT_PATH = '/usr/local/libexec/mxkit-reload';
export const PREPARE_SCRIPT_PATH = PREPARE_SCRIPT;
export const RELAY_SERVICE = RELAY_UNIT;
export const RELAY_CONTAINER = relayContainer('unused', false).name;
/** The relay's listen.http on the host (builders/relay-config.ts defaultListeners). */
export const METRICS_URL = 'http://127.0.0.1:8025/metrics';

/** Only characters that need no quoting in shell end up in the script. */
function plain(name: string, value: string): string {
  if (!/^[A-Za-z0-9_./:@+=-]+$/.test(value)) throw new Error(`reload script: ${name} contains characters that are not allowed: ${value}`);
  return value;
}

export interface ReloadPaths {
  prepareScript: string;
  configFile: string;
  metricsUrl: string;
}

const HOST_PATHS: ReloadPaths = { prepareScript: PREPARE_SCRIPT_PATH, configFile: HOST_CONFIG_FILE, metricsUrl: METRICS_URL };

/** The script the boot configuration installs at RELOAD_SCRIPT_PATH (`paths`: tests run it elsewhere). */
export function reloadScript(paths: ReloadPaths = HOST_PATHS): string {
  const metrics = plain('metrics URL', paths.metricsUrl);
  return `#!/bin/bash
# mxkit: apply a changed config to the running relay (run by the SSM association, argument: revision).
set -euo pipefail
revision="\${1:-unknown}"
${plain('prepare script', paths.prepareScript)}
expected=$(sha256sum ${plain('config file', paths.configFile)} | cut -c1-12)
if ! systemctl is-active --quiet ${plain('service', RELAY_SERVICE)}; then
  echo "mxkit: config revision $revision ($expected) fetched; the relay is not running and reads it when it starts"
  exit 0
fi
reloads() { awk '/^mxkit_config_reloads_total[{]/ { total += $2 } END { print total + 0 }'; }
# How many reloads the relay had done before this one: the answer to ours is the next.
before=$(curl -fsS --max-time 2 ${metrics} 2>/dev/null | reloads || echo 0)
docker kill --signal HUP ${plain('container', RELAY_CONTAINER)} >/dev/null
for _ in $(seq 1 60); do
  metrics=$(curl -fsS --max-time 2 ${metrics} 2>/dev/null || true)
  if [ "$(reloads <<<"$metrics")" -gt "$before" ]; then
    if grep -q "^mxkit_config_info{revision=\\"$expected\\"} 1" <<<"$metrics"; then
      if grep -q '^mxkit_config_restart_needed 1' <<<"$metrics"; then
        echo "mxkit: config $expected changes settings only a restart applies; restarting the relay (open sessions finish first)"
        systemctl restart ${RELAY_SERVICE}
      fi
      echo "mxkit: the relay runs config revision $revision ($expected)"
      exit 0
    fi
    echo "mxkit: the relay refused config $expected and keeps its previous one; journalctl -u ${RELAY_SERVICE} names the field" >&2
    exit 1
  fi
  sleep 1
done
echo "mxkit: the relay did not confirm config $expected within 60 s; see journalctl -u ${RELAY_SERVICE}" >&2
exit 1
`;
}

/** The SSM command document (schema 2.2) the association runs; `revision` is what makes it run again. */
export function reloadDocument(): string {
  return JSON.stringify(
    {
      schemaVersion: '2.2',
      description: 'mxkit: fetch the relay config from Parameter Store and reload the relay (SIGHUP)',
      parameters: {
        revision: { type: 'String', description: 'Config revision; a new value runs the association again', default: 'none', allowedPattern: '^[A-Za-z0-9.-]{1,80}$' },
      },
      mainSteps: [
        {
          action: 'aws:runShellScript',
          name: 'reloadRelay',
          inputs: {
            timeoutSeconds: '900',
            runCommand: [
              // A fresh instance may run this while cloud-init still writes the script and starts the relay.
              'cloud-init status --wait >/dev/null 2>&1 || true',
              `for _ in $(seq 1 60); do [ -x ${RELOAD_SCRIPT_PATH} ] && break; sleep 5; done`,
              `${RELOAD_SCRIPT_PATH} '{{ revision }}'`,
            ],
          },
        },
      ],
    },
    null,
    2,
  );
}
