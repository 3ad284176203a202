/**
 * GTUBE, the Generic Test for Unsolicited Bulk Email: a message containing it is spam by
 * definition, to check a filter end to end (rspamd.com/doc/other/gtube_patterns.html; rspamd
 * answers "reject" to it by default, also in production).
 */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
