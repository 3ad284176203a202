/**
 * A test stack's config, from its template (pure, unit-tested). Every test stack gets its own mail
 * domain, `<name>.<template domain>` (test-alice from a template for test.example.com →
 * alice.test.example.com): two test stacks made from one template then publish their MX, SPF,
 * DMARC, DKIM and host records at different names of the same zone, never two SPF or DMARC records
 * at one name. Addresses the template gives at its domain (routes, senders, reports) move along.
 */
/** One stack config value as `pulumi config --json` shows it. */
export interface ConfigEntry {
  value: string;
  secret?: boolean;
}
export type StackConfig = Record<string, ConfigEntry>;

export const TEST_STACK_PREFIX = 'test-';

/** The label a test stack's mail domain starts with: its name without `test-`. */
export function stackLabel(stackName: string): string {
  return stackName.slice(TEST_STACK_PREFIX.length).toLowerCase();
}

/** `x@test.example.com` / `*@test.example.com` → at `alice.test.example.com`; other addresses unchanged. */
function moveAddress(address: string, from: string, to: string): string {
  const at = address.lastIndexOf('@');
  return at >= 0 && address.slice(at + 1).toLowerCase() === from ? `${address.slice(0, at)}@${to}` : address;
}

/** Rewrites the string values at `field` in a JSON list of objects (routes' match, users' allowedFrom). */
function moveInJson(text: string, field: string, from: string, to: string): string {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    return text; // the program names the bad key; nothing to move here
  }
  if (!Array.isArray(list)) return text;
  const moved = list.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) return item;
    const value = (item as Record<string, unknown>)[field];
    const next = typeof value === 'string' ? moveAddress(value, from, to) : Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? moveAddress(v, from, to) : v)) : value;
    return { ...item, [field]: next };
  });
  return JSON.stringify(moved);
}

const bare = (domain: string) => domain.toLowerCase().replace(/\.$/, '');

/** The template's config with its mail domain (and what lives at it) moved to `to`. */
export function moveTemplate(template: StackConfig, to: string): StackConfig {
  const from = template['mxkit:domain'] ? bare(template['mxkit:domain'].value) : undefined;
  if (!from || from === bare(to)) return template;
  const config: StackConfig = { ...template, 'mxkit:domain': { ...template['mxkit:domain'], value: to } };
  const entry = (key: string, change: (value: string) => string) => {
    const current = config[key];
    if (current) config[key] = { ...current, value: change(current.value) };
  };
  // A host name under the template's domain moves with it; any other would be shared: drop it
  // (the default is mail.<domain>).
  const hostname = config['mxkit:hostname']?.value.toLowerCase();
  if (hostname !== undefined) {
    if (hostname === from || hostname.endsWith(`.${from}`)) entry('mxkit:hostname', (value) => `${value.slice(0, value.length - from.length)}${to}`);
    else delete config['mxkit:hostname'];
  }
  entry('mxkit:routes', (value) => moveInJson(value, 'match', from, to));
  entry('mxkit:users', (value) => moveInJson(value, 'allowedFrom', from, to));
  entry('mxkit:reportsTo', (value) => moveAddress(value, from, to));
  return config;
}

/** The stack's mail domain: an `mxkit:domain` override as given, else `<name>.<template domain>`. */
export function testStackDomain(template: StackConfig, overrides: StackConfig, stackName: string): string | undefined {
  if (overrides['mxkit:domain']) return overrides['mxkit:domain'].value;
  const from = template['mxkit:domain']?.value;
  return from ? `${stackLabel(stackName)}.${bare(from)}` : undefined;
}

/**
 * Template (moved to the stack's own domain) + overrides, and always ephemeral: a test stack
 * protects and retains nothing.
 */
export function testStackConfig(template: StackConfig, overrides: StackConfig, stackName: string): StackConfig {
  const domain = testStackDomain(template, overrides, stackName);
  const moved = domain === undefined ? template : moveTemplate(template, domain);
  return { ...moved, ...overrides, 'mxkit:ephemeral': { value: 'true' } };
}
