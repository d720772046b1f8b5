// The verifier's one error: a message key (err.<code> in i18n/*.json) and its parameters.
//
// Every check reports a failure by throwing a VerifyError; the report turns it into a failed
// item whose text the page translates.

export class VerifyError extends Error {
  constructor(code, params = {}) {
    super(code);
    this.code = code;
    this.params = params;
  }
}

/** Throw a VerifyError with this code and these message parameters. */
export const fail = (code, params) => {
  throw new VerifyError(code, params);
};
