// The verification report: checks in categories, each "ok", "fail" or "skip" (not checked,
// with the reason), labelled with messages ({key, params}) for translation.
//
// The page renders categories(); toJSON() is the verification report that the Python
// verifiers also produce (ledger/verify/report.py): {"ok": bool, "checks": [{"category",
// "name", "status", "detail"}]}, checks in the order they were made, texts in English.

import { VerifyError } from "./errors.js";
import { englishMessages, formatMessage } from "./messages.js";

export const CATEGORIES = [
  "key",
  "checkpoint",
  "inclusion",
  "reference",
  "chain",
  "rules",
  "commitments",
  "officer_keys",
  "authority",
  "signatures",
  "payout",
  "anchor",
  "server_status",
];

export const msg = (key, params = {}) => ({ key, params });

/** The message of a failure: a VerifyError's err.<code>, anything else as unexpected. */
export const errMsg = (exc) =>
  exc instanceof VerifyError
    ? msg(`err.${exc.code}`, exc.params)
    : msg("err.unexpected", { text: String(exc) });

export class Report {
  constructor() {
    this.checks = [];
  }

  /** Record one check; ``extra`` (event position, technical detail) is for the page. */
  add(cat, status, label, detail = null, extra = {}) {
    if (!CATEGORIES.includes(cat)) throw new Error(`unknown report category ${cat}`);
    this.checks.push({ category: cat, status, label, detail, ...extra });
    return status === "ok";
  }
  ok(cat, label, detail, extra) {
    return this.add(cat, "ok", label, detail, extra);
  }
  fail(cat, label, detail, extra) {
    return this.add(cat, "fail", label, detail, extra);
  }
  skip(cat, label, detail, extra) {
    return this.add(cat, "skip", label, detail, extra);
  }

  /**
   * The categories that have checks, in CATEGORIES order, as {id, status, items}: a category
   * fails when one of its checks failed, is ok when none failed and one passed, else skip.
   */
  categories() {
    return CATEGORIES.map((id) => {
      const items = this.checks.filter((c) => c.category === id);
      let status = "skip";
      if (items.some((i) => i.status === "fail")) status = "fail";
      else if (items.some((i) => i.status === "ok")) status = "ok";
      return { id, status, items };
    }).filter((c) => c.items.length);
  }

  /** The verdict: no check failed, and the checkpoint every proof leads to was verified. */
  get passed() {
    const categories = this.categories();
    return (
      categories.every((c) => c.status !== "fail") &&
      categories.some((c) => c.id === "checkpoint" && c.status === "ok")
    );
  }

  /** The shared verification-report shape, texts rendered with the English messages. */
  toJSON() {
    const dicts = [englishMessages()];
    const text = (m) => (m ? formatMessage(dicts, m.key, m.params) : "");
    return {
      ok: this.passed,
      checks: this.checks.map((c) => ({
        category: c.category,
        name: text(c.label),
        status: c.status,
        detail: text(c.detail),
      })),
    };
  }
}
