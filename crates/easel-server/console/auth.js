// Easel console: sign-in and password pages. Plain JavaScript, no build step.
"use strict";

async function call(method, path, body) {
  // X-Easel-Console lets the API accept the HttpOnly token cookie: a cross-site page could
  // make the browser send the cookie, but not this header.
  const headers = { "X-Easel-Console": "1" };
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
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

  const params = new URLSearchParams(location.search);
  const orgInput = document.getElementById("org");
  if (orgInput && !orgInput.value) {
    // On an organisation's own host name, the server knows which one it is.
    call("GET", "/v1/auth/org").then((r) => {
      if (r.status === 200 && !orgInput.value) orgInput.value = r.json.orgName;
    });
  }

  on("login", async (form) => {
    const r = await call("POST", "/v1/auth/authenticate?setCookie=true", fields(form));
    const next = params.get("next") || "";
    if (r.status === 200 && next.startsWith("/console/")) location.assign(next);
    else if (r.status === 200) say("login-result", "Signed in.");
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
  // ---- sign-up ----
  const hashToken = () => new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const activateSignup = () => {
    const token = hashToken();
    if (!document.getElementById("signup") || !token) return;
    document.getElementById("signup").hidden = true;
    call("POST", "/v1/tenants/signup/" + encodeURIComponent(token) + "/activate").then((r) => {
      if (r.status === 204) document.getElementById("signup-password").hidden = false;
      else say("signup-result", (r.json && r.json.message) || "That link did not work.");
    });
  };
  activateSignup();
  // The mailed link may be opened in a tab that already shows the sign-up page.
  window.addEventListener("hashchange", activateSignup);
  on("signup", async (form) => {
    const r = await call("POST", "/v1/tenants/signup", fields(form));
    if (r.status === 204) say("signup-result", "Check your mail: the link in it creates your organisation.");
    else say("signup-result", (r.json && r.json.message) || "Sign-up failed.");
  });
  on("signup-password", async (form) => {
    const r = await call("PATCH", "/v1/auth/password/" + encodeURIComponent(hashToken()) + "/activate", fields(form));
    if (r.status === 204) say("signup-password-result", "Your password is set. You can sign in now.");
    else say("signup-password-result", (r.json && r.json.message) || "That did not work.");
  });

  // ---- API reference ----
  if (document.getElementById("routes")) {
    call("GET", "/console/api/routes.json").then((r) => {
      const body = document.querySelector("#routes tbody");
      for (const route of r.json || []) {
        const row = document.createElement("tr");
        for (const text of [route.method, route.path, route.access]) {
          const td = document.createElement("td");
          td.textContent = text;
          row.appendChild(td);
        }
        body.appendChild(row);
      }
    });
  }

  // ---- API reference: try an operation from the OpenAPI document ----
  if (document.getElementById("try-form")) loadReference();

  // ---- operators: tenants ----
  if (document.getElementById("tenants")) loadTenants();
  on("tenant-create", async (form) => {
    const f = fields(form);
    const r = await call("POST", "/v1/tenants", {
      metadata: { name: f.orgName },
      spec: { orgName: f.orgName, emailId: f.emailId, firstName: f.firstName, lastName: f.lastName },
    });
    if (r.status === 201) {
      say("tenant-create-result", "Created " + f.orgName + "; its admin has been mailed an activation link.");
      form.reset();
      loadTenants();
    } else say("tenant-create-result", (r.json && r.json.message) || "Creating the tenant failed.");
  });
  const signOut = document.getElementById("sign-out");
  if (signOut) signOut.addEventListener("click", async () => {
    await call("POST", "/v1/auth/logout");
    location.assign("/console/login");
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

async function loadReference() {
  const doc = (await call("GET", "/v1/openapi.json")).json;
  const select = document.getElementById("try-operation");
  const operations = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      operations.push({ method: method.toUpperCase(), path, op });
    }
  }
  for (const [i, o] of operations.entries()) {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = `${o.method} ${o.path}`;
    select.appendChild(option);
  }
  const params = document.getElementById("try-parameters");
  const bodyLabel = document.getElementById("try-body-label");
  const body = document.getElementById("try-body");
  const show = () => {
    const o = operations[Number(select.value)];
    params.replaceChildren();
    for (const p of o.op.parameters || []) {
      const label = document.createElement("label");
      label.textContent = `${p.name} (${p.in}${p.required ? ", required" : ""}) `;
      const input = document.createElement("input");
      input.name = p.name;
      input.dataset.in = p.in;
      input.required = !!p.required;
      label.appendChild(input);
      params.appendChild(label);
    }
    bodyLabel.hidden = !o.op.requestBody;
    body.value = o.op.requestBody ? "{}" : "";
    document.getElementById("try-status").textContent = o.op.description || "";
    document.getElementById("try-result").textContent = "";
  };
  select.addEventListener("change", show);
  show();
  document.getElementById("try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const o = operations[Number(select.value)];
    let path = o.path;
    const query = new URLSearchParams();
    for (const input of params.querySelectorAll("input")) {
      if (input.dataset.in === "path") path = path.replace(`{${input.name}}`, encodeURIComponent(input.value));
      else if (input.value !== "") query.set(input.name, input.value);
    }
    const url = query.toString() ? `${path}?${query}` : path;
    let payload;
    if (o.op.requestBody && body.value.trim() !== "") {
      try { payload = JSON.parse(body.value); } catch (_) {
        document.getElementById("try-status").textContent = "The body is not valid JSON.";
        return;
      }
    }
    const r = await call(o.method, url, payload);
    document.getElementById("try-status").textContent = `${o.method} ${url}: ${r.status}`;
    document.getElementById("try-result").textContent = r.json === null ? "" : JSON.stringify(r.json, null, 2);
  });
}

async function loadTenants() {
  const r = await call("GET", "/v1/tenants?limit=50");
  if (r.status === 401) {
    location.assign("/console/login?next=" + encodeURIComponent("/console/tenants"));
    return;
  }
  if (r.status !== 200) {
    say("tenants-result", (r.json && r.json.message) || "Could not list tenants.");
    return;
  }
  const body = document.querySelector("#tenants tbody");
  body.replaceChildren();
  for (const tenant of r.json.items) {
    const row = document.createElement("tr");
    row.dataset.org = tenant.spec.orgName;
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      row.appendChild(td);
    };
    cell(tenant.spec.orgName);
    cell(tenant.status.isActive ? "active" : "disabled", tenant.status.isActive ? "" : "inactive");
    cell(tenant.metadata.creationTimestamp.slice(0, 10));
    const actions = document.createElement("td");
    const button = (label, handler) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.addEventListener("click", async () => {
        const result = await handler();
        if (result.status >= 400) say("tenants-result", (result.json && result.json.message) || "That did not work.");
        else say("tenants-result", label + ": " + tenant.spec.orgName);
        loadTenants();
      });
      actions.appendChild(b);
    };
    const uid = encodeURIComponent(tenant.metadata.uid);
    button(tenant.status.isActive ? "Disable" : "Enable", () =>
      call("PATCH", "/v1/tenants/" + uid + "/activate", { isActive: !tenant.status.isActive }));
    button("Delete", () =>
      confirm("Delete " + tenant.spec.orgName + " and everything in it?")
        ? call("DELETE", "/v1/tenants/" + uid)
        : Promise.resolve({ status: 0 }));
    row.appendChild(actions);
    body.appendChild(row);
  }
  say("tenants-result", r.json.listmeta.count + " tenant(s)");
}
