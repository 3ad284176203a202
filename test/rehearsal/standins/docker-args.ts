/**
 * `docker run` argv → what the container is (docs.docker.com/reference/cli/docker/container/run/).
 * Only the flags mxkit's units use are understood; any other flag is an error, so a new flag in the
 * user data gets a decision here instead of being ignored.
 */

export interface BindMountSpec {
  /** A host path, or the name of a named volume (`named`). */
  source: string;
  target: string;
  readOnly: boolean;
  /** A named volume (`-v name:/path`): Docker keeps it under its data root, made on first use. */
  named?: boolean;
}

export interface ContainerRun {
  name: string;
  remove: boolean;
  network: string;
  readOnly: boolean;
  capDrop: string[];
  capAdd: string[];
  securityOpt: string[];
  pidsLimit?: number;
  memory?: string;
  /** `--env K=V`, in order. */
  env: string[];
  tmpfs: Array<{ target: string; options: string }>;
  logDriver?: string;
  mounts: BindMountSpec[];
  image: string;
  command: string[];
}

/** `type=bind,source=/a,target=/b,readonly` (docs.docker.com/engine/storage/bind-mounts/). */
function parseMount(value: string): BindMountSpec {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const [key, ...rest] = part.split('=');
    fields.set(key, rest.join('='));
  }
  for (const key of fields.keys()) {
    if (!['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro'].includes(key)) throw new Error(`docker stand-in: --mount option "${key}" is not emulated`);
  }
  if (fields.get('type') !== 'bind') throw new Error(`docker stand-in: only --mount type=bind is emulated (got "${value}")`);
  const source = fields.get('source') ?? fields.get('src');
  const target = fields.get('target') ?? fields.get('destination') ?? fields.get('dst');
  if (!source || !target) throw new Error(`docker stand-in: --mount needs source and target (got "${value}")`);
  const readOnly = fields.has('readonly') || fields.has('ro');
  const flag = fields.get('readonly') ?? fields.get('ro');
  return { source, target, readOnly: readOnly && flag !== 'false' && flag !== '0' };
}

/** `-v /a:/b[:ro]` (a bind) or `-v name:/b[:ro]` (a named volume). */
function parseVolume(value: string): BindMountSpec {
  const [source, target, options = ''] = value.split(':');
  if (!source || !target?.startsWith('/')) throw new Error(`docker stand-in: cannot read --volume "${value}"`);
  const named = !source.startsWith('/');
  if (named && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) throw new Error(`docker stand-in: "${source}" is not a volume name`);
  return { source, target, readOnly: options.split(',').includes('ro'), ...(named ? { named } : {}) };
}

export function parseDockerRun(argv: readonly string[]): ContainerRun {
  const run: ContainerRun = { name: '', remove: false, network: 'bridge', readOnly: false, capDrop: [], capAdd: [], securityOpt: [], env: [], tmpfs: [], mounts: [], image: '', command: [] };
  let index = 0;
  const value = (flag: string) => {
    const next = argv[++index];
    if (next === undefined) throw new Error(`docker stand-in: ${flag} needs a value`);
    return next;
  };
  for (; index < argv.length; index++) {
    const arg = argv[index];
    if (!arg.startsWith('-')) break;
    switch (arg) {
      case '--rm': run.remove = true; break;
      case '--read-only': run.readOnly = true; break;
      case '--name': run.name = value(arg); break;
      case '--network': case '--net': run.network = value(arg); break;
      case '--cap-drop': run.capDrop.push(value(arg).toUpperCase()); break;
      case '--cap-add': run.capAdd.push(value(arg).toUpperCase()); break;
      case '--security-opt': run.securityOpt.push(value(arg)); break;
      case '--pids-limit': run.pidsLimit = Number(value(arg)); break;
      case '--memory': case '-m': run.memory = value(arg); break;
      case '--env': case '-e': {
        const env = value(arg);
        if (!env.includes('=')) throw new Error(`docker stand-in: --env ${env} without a value is not emulated`);
        run.env.push(env);
        break;
      }
      case '--log-driver': run.logDriver = value(arg); break;
      case '--tmpfs': {
        const [target, options = ''] = value(arg).split(/:(.*)/s, 2);
        run.tmpfs.push({ target, options });
        break;
      }
      case '--mount': run.mounts.push(parseMount(value(arg))); break;
      case '--volume': case '-v': run.mounts.push(parseVolume(value(arg))); break;
      default:
        throw new Error(`docker stand-in: "${arg}" is not emulated; teach test/rehearsal/standins/docker-args.ts what it means`);
    }
  }
  run.image = argv[index] ?? '';
  if (!run.image) throw new Error('docker stand-in: docker run needs an image');
  run.command = argv.slice(index + 1);
  return run;
}
