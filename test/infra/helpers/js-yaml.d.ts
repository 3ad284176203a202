// js-yaml ships without types (its @types package is not installed); only `load` is used, to read
// stacks/Pulumi.<stack>.yaml the way the Pulumi CLI would.
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
