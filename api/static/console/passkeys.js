// Passkeys in the console (WebAuthn, navigator.credentials): adding one on "Your passkeys", and
// signing in with the password and a passkey instead of the code. The server makes the options
// (with its challenge) and checks every answer; this script only carries them between the
// server and the authenticator. No third-party code; the CSP allows no inline script.

const supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

// --- base64url <-> bytes (WebAuthn's JSON form of binary fields) ------------------------------

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptors(list) {
  return (list || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
}

function creationOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: descriptors(json.allowCredentials),
  };
}

function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
  }
  return JSON.stringify({
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
  });
}

// --- talking to the server -----------------------------------------------------------------

function say(text) {
  const message = document.getElementById("passkey-message");
  message.textContent = text;
  message.hidden = !text;
}

// The options, or throws an Error whose message is for the member.
async function fetchOptions(url, fields) {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  const response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
  const type = response.headers.get("Content-Type") || "";
  if (response.ok && type.startsWith("application/json")) return response.json();
  if (type.startsWith("application/problem+json")) {
    const problem = await response.json();
    throw new Error(problem.detail || problem.title);
  }
  throw new Error("The page is out of date. Reload it and try again.");
}

function cancelled(error) {
  return error && (error.name === "NotAllowedError" || error.name === "AbortError");
}

// --- signing in ------------------------------------------------------------------------------

function setUpSignIn(section) {
  const button = document.getElementById("passkey-sign-in-button");
  const form = document.getElementById("passkey-sign-in-form");
  const signIn = document.getElementById("sign-in-form");
  section.hidden = false;
  button.addEventListener("click", async () => {
    const username = signIn.elements.username.value.trim();
    const password = signIn.elements.password.value;
    if (!username || !password) {
      say("Enter your username and password first, then use your passkey.");
      return;
    }
    say("");
    button.disabled = true;
    try {
      const options = await fetchOptions(button.dataset.optionsUrl, {
        csrf_token: form.elements.csrf_token.value,
        username,
      });
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      form.elements.credential.value = credentialJSON(credential);
      form.elements.username.value = username;
      form.elements.password.value = password; // checked with the passkey, never before it
      form.submit();
    } catch (error) {
      say(
        cancelled(error)
          ? "No passkey was used. Try again, or enter the code from your authenticator app."
          : error.message,
      );
      button.disabled = false;
    }
  });
}

// --- adding a passkey ------------------------------------------------------------------------

function setUpAdd(form) {
  form.addEventListener("submit", async (event) => {
    if (form.elements.credential.value) return; // the passkey is made: send the form
    event.preventDefault();
    if (!form.elements.name.value.trim()) {
      say("Enter a name for the passkey.");
      form.elements.name.focus();
      return;
    }
    say("");
    const button = document.getElementById("passkey-add");
    button.disabled = true;
    try {
      const options = await fetchOptions(form.dataset.optionsUrl, {
        csrf_token: form.elements.csrf_token.value,
      });
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      form.elements.credential.value = credentialJSON(credential);
      form.submit();
    } catch (error) {
      say(
        cancelled(error)
          ? "No passkey was made. Try again when you are ready."
          : error.name === "InvalidStateError"
            ? "This device already holds one of your passkeys."
            : error.message,
      );
      button.disabled = false;
    }
  });
}

const signInSection = document.getElementById("passkey-sign-in");
const addForm = document.getElementById("passkey-add-form");
if (signInSection && supported) setUpSignIn(signInSection);
if (addForm) {
  if (supported) setUpAdd(addForm);
  else say("This browser cannot make passkeys. Use another browser or device.");
}
