/**
 * The end-of-data look-alikes published for "SMTP smuggling" (SEC Consult, Dec 2023; Postfix's
 * smtpd_forbid_bare_newline notes): each would end DATA on some server that accepts bare CR/LF.
 */
export const FAKE_TERMINATORS: Array<[string, string]> = [
  ['<LF>.<LF>', '\n.\n'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR>', '\r.\r'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<LF>.<CR>', '\n.\r'],
];
