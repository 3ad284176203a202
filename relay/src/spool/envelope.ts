/** What the spool keeps about a message besides its bytes. One JSON line heads each spool file. */
export interface SpoolEnvelope {
  id: string;
  receivedAt: string;
  /** Envelope sender; '' is the null sender `<>`. */
  mailFrom: string;
  rcptTo: string[];
  listener: string;
  clientAddress: string;
  authUser?: string;
  smtpUtf8: boolean;
  bodyType: '7bit' | '8bitmime';
}

export interface SpooledMessage {
  envelope: SpoolEnvelope;
  /** Absolute path of the spool file. */
  path: string;
  /** Byte offset where the message itself starts in the file. */
  bodyOffset: number;
}
