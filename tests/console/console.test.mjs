// Easel's console in real headless Chromium (Debian's package, driven by playwright-core),
// against a real `easel serve` on SQLite with a real SMTP server (aiosmtpd) for its mail.
// Run by scripts/test.sh after the Rust suites; `node --test` here runs it alone.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createServer, connect } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const EASEL = process.env.EASEL_BIN || join(root, "target", "debug", "easel");
const PYTHON = process.env.EASEL_TEST_PYTHON || join(root, ".venv", "bin", "python");
const CHROMIUM = process.env.EASEL_CHROMIUM || "/usr/bin/chromium";
const OPS_EMAIL = "ops@acme.test";
const OPS_PASSWORD = "stable orbit cactus velvet";
const SHOTS = join(here, "out");

let work, smtp, server, base, browser;

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => { socket.end(); resolve(true); });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function decodeQuotedPrintable(text) {
  return text
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** The messages aiosmtpd has delivered to `to`, bodies decoded. */
function mailTo(to) {
  const out = [];
  for (const sub of ["new", "cur"]) {
    const dir = join(work, "maildir", sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const raw = readFileSync(join(dir, name), "utf8").replace(/\r\n/g, "\n");
      const split = raw.indexOf("\n\n");
      const head = raw.slice(0, split).replace(/\n[ \t]/g, " ");
      let body = raw.slice(split + 2);
      const header = (n) => (head.match(new RegExp(`^${n}:\\s*(.*)$`, "mi")) || [])[1] || "";
      if (/quoted-printable/i.test(header("Content-Transfer-Encoding"))) body = decodeQuotedPrintable(body);
      if (/base64/i.test(header("Content-Transfer-Encoding"))) body = Buffer.from(body, "base64").toString("utf8");
      if (header("To").includes(to)) out.push({ subject: header("Subject"), body });
    }
  }
  return out;
}

async function waitForMail(to, count = 1) {
  for (let i = 0; i < 400; i++) {
    const got = mailTo(to);
    if (got.length >= count) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no mail to ${to}`);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "easel-console-"));
  mkdirSync(SHOTS, { recursive: true });
  const smtpPort = await freePort();
  smtp = spawn(PYTHON, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${smtpPort}`,
    "-c", "aiosmtpd.handlers.Mailbox", join(work, "maildir")], { stdio: "ignore" });
  await waitForPort(smtpPort);

  server = spawn(EASEL, [
    "serve", "--listen", "127.0.0.1:0", "--log-format", "json",
    "--database-url", `sqlite://${join(work, "easel.db")}`,
    "--tenant-name", "acme", "--admin-email", OPS_EMAIL, "--admin-password", OPS_PASSWORD,
    "--smtp-url", `smtp://127.0.0.1:${smtpPort}`, "--allow-signup",
  ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, EASEL_LOG: "info" } });
  base = await new Promise((resolve, reject) => {
    let buffered = "";
    server.stderr.on("data", (chunk) => {
      buffered += chunk;
      const found = buffered.match(/Easel is listening on (http:\/\/[0-9.:]+)/);
      if (found) resolve(found[1]);
    });
    server.on("exit", (code) => reject(new Error(`easel serve exited with ${code}`)));
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  smtp?.kill("SIGTERM");
});

async function signIn(page, org, email, password) {
  await page.fill("#login input[name=org]", org);
  await page.fill("#login input[name=emailId]", email);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button[type=submit]");
}

test("an operator signs in and creates, disables, enables and deletes a tenant", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console/tenants`);
  // Not signed in: sent to the sign-in page, and back after signing in.
  await page.waitForURL(/\/console\/login\?next=/);
  await signIn(page, "acme", OPS_EMAIL, OPS_PASSWORD);
  await page.waitForURL(/\/console\/tenants$/);
  await page.waitForSelector("#tenants tbody tr[data-org=acme]");

  await page.fill("#tenant-create input[name=orgName]", "globex");
  await page.fill("#tenant-create input[name=emailId]", "boss@globex.test");
  await page.fill("#tenant-create input[name=firstName]", "Gina");
  await page.fill("#tenant-create input[name=lastName]", "Boss");
  await page.click("#tenant-create button[type=submit]");
  const row = page.locator("#tenants tbody tr[data-org=globex]");
  await row.waitFor();
  assert.equal(await row.locator("td").nth(1).textContent(), "active");
  const [activation] = await waitForMail("boss@globex.test");
  assert.match(activation.subject, /globex/);

  await row.locator("button", { hasText: "Disable" }).click();
  await page.waitForSelector("#tenants tbody tr[data-org=globex] td.inactive");
  assert.equal(await row.locator("td").nth(1).textContent(), "disabled");
  await page.screenshot({ path: join(SHOTS, "tenants.png"), fullPage: true });
  await row.locator("button", { hasText: "Enable" }).click();
  await page.waitForFunction(() =>
    document.querySelector("#tenants tbody tr[data-org=globex] td:nth-child(2)")?.textContent === "active");

  page.once("dialog", (dialog) => dialog.accept());
  await row.locator("button", { hasText: "Delete" }).click();
  await page.waitForFunction(() => !document.querySelector("#tenants tbody tr[data-org=globex]"));
  assert.equal(await page.locator("#tenants tbody tr").count(), 1);

  // A mistake is shown, not swallowed.
  await page.fill("#tenant-create input[name=orgName]", "admin");
  await page.fill("#tenant-create input[name=emailId]", "x@y.test");
  await page.fill("#tenant-create input[name=firstName]", "X");
  await page.fill("#tenant-create input[name=lastName]", "Y");
  await page.click("#tenant-create button[type=submit]");
  await page.waitForFunction(() => /reserved/.test(document.getElementById("tenant-create-result").textContent));

  await page.click("#sign-out");
  await page.waitForURL(/\/console\/login$/);
  await page.close();
});

test("a person signs up, follows the mailed link, sets a password and signs in", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console/signup`);
  await page.fill("#signup input[name=orgName]", "startup");
  await page.fill("#signup input[name=firstName]", "Sam");
  await page.fill("#signup input[name=lastName]", "Founder");
  await page.fill("#signup input[name=emailId]", "sam@startup.test");
  await page.click("#signup button[type=submit]");
  await page.waitForFunction(() => /Check your mail/.test(document.getElementById("signup-result").textContent));

  const [mail] = await waitForMail("sam@startup.test");
  const link = mail.body.split(/\s+/).find((w) => w.includes("/console/signup#token="));
  assert.ok(link, mail.body);
  await page.goto(link);
  await page.waitForSelector("#signup-password:not([hidden])");
  await page.fill("#signup-password input[name=password]", "quiet maple harbor lantern");
  await page.click("#signup-password button[type=submit]");
  await page.waitForFunction(() => /password is set/.test(document.getElementById("signup-password-result").textContent));
  await page.screenshot({ path: join(SHOTS, "signup.png"), fullPage: true });

  await page.goto(`${base}/console/login?org=startup`);
  assert.equal(await page.inputValue("#login input[name=org]"), "startup");
  await signIn(page, "startup", "sam@startup.test", "quiet maple harbor lantern");
  await page.waitForFunction(() => document.getElementById("login-result").textContent === "Signed in.");

  // A tenant admin who is not an operator gets no tenant list.
  await page.goto(`${base}/console/tenants`);
  await page.waitForFunction(() => /operator/.test(document.getElementById("tenants-result").textContent));
  await page.close();
});

test("the pages load no third-party code and forbid inline script", async () => {
  const response = await fetch(`${base}/console/login`);
  const csp = response.headers.get("content-security-policy");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  const html = await response.text();
  assert.doesNotMatch(html, /<script>[^<]/);
  assert.doesNotMatch(html, /https?:\/\//);
});

test("the API reference lists every route with what it needs", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console/api`);
  await page.waitForSelector("#routes tbody tr");
  const rows = await page.locator("#routes tbody tr").allTextContents();
  assert.ok(rows.length > 80, `${rows.length} routes`);
  assert.ok(rows.some((r) => r.includes("/v1/apiKeys") && r.includes("own or apiKey.create")));
  assert.ok(rows.some((r) => r.includes("/v1/projects/{uid}") && r.includes("project.get")));
  await page.close();
});

test("the API reference tries an operation from the OpenAPI document", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console/api`);
  await page.waitForSelector("#try-operation option", { state: "attached" });
  const options = await page.locator("#try-operation option").allTextContents();
  assert.ok(options.length > 80, `${options.length} operations`);
  // Signed out: a protected operation is refused, the answer shown as it came.
  await page.selectOption("#try-operation", { label: "GET /v1/users/info" });
  await page.click("#try-form button");
  await page.waitForFunction(() => document.getElementById("try-status").textContent.includes(": 401"));
  // Palette's error body, with the request id as `ref`.
  assert.match(await page.textContent("#try-result"), /"ref": "[0-9a-f]+"/);
  // A path parameter goes into the path; a public operation answers.
  await page.selectOption("#try-operation", { label: "GET /v1/auth/refresh/{token}" });
  await page.fill("#try-parameters input[name=token]", "not-a-token");
  await page.click("#try-form button");
  await page.waitForFunction(() => /refresh\/not-a-token: \d+/.test(document.getElementById("try-status").textContent));
  await page.selectOption("#try-operation", { label: "GET /v1/health/ping" });
  await page.click("#try-form button");
  await page.waitForFunction(() => document.getElementById("try-status").textContent.endsWith(": 200"));
  assert.match(await page.textContent("#try-result"), /"msg": "ok"/);
  await page.close();
});
