// What running one command line gives back. Its own module because both the interpreter and the nvmet
// export (which post-processes a line's result) need it, and the interpreter already depends on the
// store that the nvmet export's types feed into: keeping it here keeps that graph free of circles.
export interface LineResult {
  /** Console output before any error (CRLF line ends). */
  output: string;
  /** The RouterOS error text that stopped the line, without line end. */
  error?: string;
}
