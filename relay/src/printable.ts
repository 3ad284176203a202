/** Text from the network made safe to store and show on one line: controls become spaces, length is capped. */
export function printable(text: string, max: number): string {
  const clean = text.replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
