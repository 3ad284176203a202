/**
 * Does the instance role's policy allow this? A small IAM evaluator for the policy mxkit writes
 * (Allow statements, Action lists, Resource ARNs with `*` and `?`), so a rehearsal boot fails
 * exactly where a real boot would be denied.
 */
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

export function isAllowed(policyJson: string, action: string, resource: string): boolean {
  const policy = JSON.parse(policyJson) as { Statement: Statement[] };
  return policy.Statement.some(
    (s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => glob(a).test(action)) && [s.Resource].flat().some((r) => glob(r).test(resource)),
  );
}
