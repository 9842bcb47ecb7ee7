// Easel console: sign-in and password pages. Plain JavaScript, no build step.
"use strict";

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  let json = null;
  try { json = await response.json(); } catch (_) { /* 204 */ }
  return { status: response.status, json };
}

function say(id, text) {
  document.getElementById(id).textContent = text;
}

function fields(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function on(id, handler) {
  const form = document.getElementById(id);
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler(form).catch(() => say(form.id + "-result", "Something went wrong; try again."));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const org = new URLSearchParams(location.search).get("org");
  if (org && document.getElementById("org")) document.getElementById("org").value = org;

  on("login", async (form) => {
    const r = await call("POST", "/v1/auth/authenticate?setCookie=true", fields(form));
    if (r.status === 200) say("login-result", "Signed in.");
    else if (r.json && r.json.code === "OrganizationRequired")
      say("login-result", "Choose an organisation: " + r.json.details.organizations.join(", "));
    else say("login-result", (r.json && r.json.message) || "Sign-in failed.");
  });
  on("forgot-org", async (form) => {
    const email = encodeURIComponent(fields(form).emailId);
    await call("GET", "/v1/auth/user/org/forgot?emailId=" + email);
    say("mail-result", "If this address has accounts, a message is on its way.");
  });
  on("forgot-password", async (form) => {
    await call("POST", "/v1/auth/user/password/reset", fields(form));
    say("mail-result", "If this address has accounts, a message is on its way.");
  });
  on("set-password", async (form) => {
    // The token is in the fragment, which the browser never sends to a server.
    const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
    const purpose = location.pathname.endsWith("/activate") ? "activate" : "reset";
    const r = await call("PATCH", "/v1/auth/password/" + encodeURIComponent(token) + "/" + purpose, fields(form));
    if (r.status === 204) say("password-result", "Your password is set. You can sign in now.");
    else say("password-result", (r.json && r.json.message) || "That did not work.");
  });
});
