// Message texts: a message is {key, params}; its text is looked up in a catalogue
// (i18n/<lang>.json) and its {name} placeholders are filled from the parameters.
//
// The page shows messages in the reader's language; the report's JSON form (Report.toJSON)
// shows them in English, the catalogue every other language falls back to.

// Parameters that are codes from a vocabulary are shown as that vocabulary's words.
const VOCAB_PARAMS = {
  type: "type",
  status: "status",
  target: "status",
  claimed: "status",
  server: "status",
  log: "status",
  role: "role",
  state: "anchor_state",
  reason: "revocation_reason",
  category: "category",
  step: "playbook_step",
  next: "playbook_step",
  kind: "compensation_kind",
  offered: "compensation_kind",
};

const TIME_PARAMS = ["when", "at", "from", "until"];

const catalogues = new Map(); // language -> promise of its catalogue
let english = null;

/** The catalogue of one language, i18n/<lang>.json beside this module, fetched once. */
export function loadMessages(lang) {
  if (!catalogues.has(lang)) {
    const url = new URL(`./i18n/${lang}.json`, import.meta.url);
    const loading = fetch(url, { cache: "no-cache", credentials: "omit" }).then(async (resp) => {
      if (!resp.ok) throw new Error(`i18n ${lang}: HTTP ${resp.status}`);
      const dict = await resp.json();
      if (lang === "en") english = dict;
      return dict;
    });
    catalogues.set(lang, loading);
    loading.catch(() => catalogues.delete(lang)); // a failed load is tried again next time
  }
  return catalogues.get(lang);
}

/** The English catalogue; throws Error before loadMessages("en"). */
export function englishMessages() {
  if (!english) throw new Error("the English messages are not loaded (loadMessages('en'))");
  return english;
}

/** The text at a dotted key ("err.hex") in the first of ``dicts`` that has one. */
export function lookupText(dicts, key) {
  for (const dict of dicts) {
    const text = key
      .split(".")
      .reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), dict);
    if (typeof text === "string") return text;
  }
  return undefined;
}

/**
 * The text of message ``key`` in the first of ``dicts`` that has it (the key itself when none
 * does), its placeholders filled: vocabulary codes as words, time parameters through
 * ``formatTime`` when given (else as they are), anything else as a string.
 */
export function formatMessage(dicts, key, params = {}, formatTime = null) {
  const text = lookupText(dicts, key);
  if (text === undefined) return key;
  return text.replace(/\{([a-z0-9_]+)\}/g, (m, name) => {
    if (!(name in params)) return m;
    const value = params[name];
    if (formatTime && TIME_PARAMS.includes(name)) return formatTime(value);
    const vocab = VOCAB_PARAMS[name];
    if (vocab && typeof value === "string") {
      const word = lookupText(dicts, `${vocab}.${value}`);
      if (word !== undefined) return word;
    }
    return String(value);
  });
}
