/** relay/Dockerfile: the image mxkit:relayImage runs on the (arm64 by default) host. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { NODE_IMAGE } from '../../infra/components/user-data';
import { architectureOf } from '../../infra/config';
import { RELAY_NODE_OPTIONS } from '../../relay/src/ops/heap-mode';

const dockerfile = readFileSync(path.join(__dirname, '../../relay/Dockerfile'), 'utf8');
const stages = [...dockerfile.matchAll(/^FROM\s+(.*)$/gm)].map((m) => m[1]);

describe('the relay image', () => {
  test('builds the bundle on the build machine and ships it in an image of the target architecture', () => {
    expect(stages).toEqual(['--platform=$BUILDPLATFORM ${NODE_IMAGE} AS build', '${NODE_IMAGE}']);
  });

  test('is documented as built for arm64, what the default instance type runs', () => {
    expect(architectureOf('t4g.small')).toBe('arm64');
    expect(dockerfile).toMatch(/docker buildx build --platform linux\/arm64,linux\/amd64/);
    expect(dockerfile).toContain('mxkit:relayImage <registry>/mxkit-relay:0.1.0@sha256:<digest>');
  });

  test('starts from the same pinned Node.js image as the bundle deployment', () => {
    expect(dockerfile).toContain(`ARG NODE_IMAGE=${NODE_IMAGE}\n`);
  });

  test('starts the relay with the node options every other start uses', () => {
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...RELAY_NODE_OPTIONS, '/opt/mxkit/mxkit.js']);
  });

  test('makes the code cache of its bundle with the node options its entrypoint starts the relay with', () => {
    const runs = [...dockerfile.matchAll(/^RUN\s+(\[.*\])$/gm)].map((m) => JSON.parse(m[1]) as string[]);
    expect(runs).toContainEqual(['node', ...RELAY_NODE_OPTIONS, '/opt/mxkit/mxkit.js', 'code-cache']);
    // After the bundle is in place, in the image that runs it.
    expect(dockerfile.indexOf('code-cache"]')).toBeGreaterThan(dockerfile.indexOf('COPY --from=build /src/dist/mxkit.js /opt/mxkit/mxkit.js'));
  });
});
