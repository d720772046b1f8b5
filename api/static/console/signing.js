// Officers sign in their own browser (WebCrypto Ed25519): the private key never leaves it.
//
// The key comes from the officer's key file (PKCS#8 PEM, as `ledger-officer keygen` writes
// it), read here and imported non-extractable, or is made in this browser (non-extractable)
// and kept in IndexedDB. Only the key id and the signature ({key_id, sig}, hex) are sent back,
// with the form's CSRF token. Pages: [data-signing="sign"|"cosign"] (a draft's review page)
// and [data-signing="key"] (the officer's key page, which links a key to the account).

const ED25519 = { name: "Ed25519" };
const DB_NAME = "ledger-console-signing";
const STORE = "keys";
const SLOT = "officer";

const root = document.querySelector("[data-signing]");
const $ = (id) => document.getElementById(id);
let loaded = null; // {privateKey, keyId, publicHex, source}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function keyIdOf(rawPublic) {
  return hex((await sha256(rawPublic)).slice(0, 16));
}

function base64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

function pemBody(pem) {
  if (/ENCRYPTED PRIVATE KEY/.test(pem)) {
    throw new Error("this key file is encrypted; use the unencrypted file ledger-officer writes");
  }
  const match = pem.match(/-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/);
  if (!match) throw new Error("this is not a PKCS#8 private key file (BEGIN PRIVATE KEY)");
  const b64 = match[1].replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// The key file: imported twice, once only to read its public half (JWK "x"), then as the
// non-extractable key that signs. Neither copy, nor the file, is sent anywhere.
async function importKeyFile(file) {
  const der = pemBody(await file.text());
  const readable = await crypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", readable);
  const rawPublic = base64url(jwk.x);
  const privateKey = await crypto.subtle.importKey("pkcs8", der, ED25519, false, ["sign"]);
  der.fill(0);
  return { privateKey, keyId: await keyIdOf(rawPublic), publicHex: hex(rawPublic), source: "file" };
}

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function dbDo(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

async function storedKey() {
  const pair = await dbDo("readonly", (s) => s.get(SLOT));
  if (!pair) return null;
  const rawPublic = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    privateKey: pair.privateKey,
    keyId: await keyIdOf(rawPublic),
    publicHex: hex(rawPublic),
    source: "browser",
  };
}

// A new key made here: the private half cannot be exported, even by this page.
async function createStoredKey() {
  const pair = await crypto.subtle.generateKey(ED25519, false, ["sign", "verify"]);
  await dbDo("readwrite", (s) => s.put({ privateKey: pair.privateKey, publicKey: pair.publicKey }, SLOT));
  return storedKey();
}

function heldKeys() {
  return JSON.parse(root.dataset.held || "[]");
}

function say(id, text, state) {
  const el = $(id);
  if (!el) return;
  el.textContent = text;
  if (state) el.dataset.state = state;
}

function showKey(key) {
  loaded = key;
  say("key-id", key.keyId);
  say("key-public", key.publicHex);
  say("key-source", key.source === "file" ? "your key file" : "the key kept in this browser");
  const details = $("key-details");
  if (details) details.hidden = false;
  checkKey();
}

// Is the loaded key one the server lists for this officer, and may it sign now?
function checkKey() {
  const mode = root.dataset.signing;
  const button = $("sign-button") || $("link-button");
  if (!loaded) return;
  const held = heldKeys().find((k) => k.key_id === loaded.keyId);
  let ok = false;
  if (mode === "key") {
    ok = !held;
    say("key-check", held ? "This key is already linked to your account." :
      "This key is not linked to your account yet. Once an administrator has registered it, link it here.",
      held ? "linked" : "unlinked");
  } else if (!held) {
    say("key-check", `Key ${loaded.keyId} is not one of your linked officer keys: link it on the "Your signing key" page first.`, "refused");
  } else if (!held.usable) {
    say("key-check", `Key ${loaded.keyId} may not sign now: ${held.why_not}`, "refused");
  } else if (mode === "cosign" && root.dataset.signerKey === loaded.keyId) {
    say("key-check", "This key made the first signature: dual control needs another officer's key.", "refused");
  } else {
    ok = true;
    say("key-check", `Key ${loaded.keyId} is one of your officer keys. Check the body, then sign.`, "ok");
  }
  if (button) button.disabled = !ok;
}

async function signAndSend(form, bytes) {
  const sig = new Uint8Array(await crypto.subtle.sign(ED25519, loaded.privateKey, bytes));
  form.elements.key_id.value = loaded.keyId;
  form.elements.sig.value = hex(sig);
  form.submit();
}

// The bytes on the page are the bytes signed: their SHA-256 must be the server's.
async function bodyBytes() {
  const text = $("body-jcs").textContent;
  const bytes = new TextEncoder().encode(text);
  if (hex(await sha256(bytes)) !== root.dataset.bodySha256) {
    throw new Error("the body shown does not match the body prepared: reload the page");
  }
  return bytes;
}

function linkStatement(keyId) {
  // JCS of {"account", "key_id", "purpose"}: keys sorted, plain strings (JSON.stringify agrees).
  return new TextEncoder().encode(JSON.stringify({
    account: root.dataset.account, key_id: keyId, purpose: root.dataset.purpose,
  }));
}

function fail(error) {
  say("key-check", `Nothing was sent: ${error.message || error}`, "refused");
}

function wire() {
  if (!root) return;
  if (!window.isSecureContext || !crypto.subtle) {
    say("key-check", "Signing needs a secure page (HTTPS or localhost) with WebCrypto.", "refused");
    return;
  }
  const file = $("key-file");
  if (file) {
    file.addEventListener("change", async () => {
      if (!file.files.length) return;
      try {
        showKey(await importKeyFile(file.files[0]));
      } catch (error) {
        fail(error);
      } finally {
        file.value = ""; // the page keeps no reference to the file
      }
    });
  }
  const useStored = $("use-browser-key");
  if (useStored) {
    useStored.addEventListener("click", async () => {
      try {
        const key = await storedKey();
        if (key) showKey(key);
        else say("key-check", "No key is kept in this browser yet.", "refused");
      } catch (error) {
        fail(error);
      }
    });
  }
  const create = $("create-browser-key");
  if (create) {
    create.addEventListener("click", async () => {
      if ((await storedKey()) && !confirm("Replace the key kept in this browser?")) return;
      try {
        showKey(await createStoredKey());
      } catch (error) {
        fail(error);
      }
    });
  }
  const form = $("sign-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!loaded) return;
      try {
        await signAndSend(form, await bodyBytes());
      } catch (error) {
        fail(error);
      }
    });
  }
  const link = $("link-form");
  if (link) {
    link.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!loaded) return;
      try {
        await signAndSend(link, linkStatement(loaded.keyId));
      } catch (error) {
        fail(error);
      }
    });
  }
  if (root.dataset.signing === "key") {
    storedKey().then((key) => { if (key) showKey(key); }).catch(() => {});
  }
  root.dataset.ready = "true";
}

wire();
