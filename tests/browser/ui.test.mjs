// pmhub's web UI in a real headless Chromium, against the real `pmhub` binary, PostgreSQL and
// the fake GitHub (all started by `pmhub-stack`). Run with `make browser-test`.
//
// Environment: DATABASE_URL (required), PMHUB_BIN_DIR (default ../../target/debug: pmhub,
// github-fake, pmhub-stack), CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (default
// ../../target/browser-screenshots; `make ui-screenshots` points it at docs/screenshots).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const binDir = path.resolve(root, process.env.PMHUB_BIN_DIR ?? "target/debug");
const screenshots = path.resolve(root, process.env.SCREENSHOT_DIR ?? "target/browser-screenshots");
const TIMEOUT = 30_000;

let stack; // the pmhub-stack child process
let env; // what it printed: urls, tokens, repositories
let browser;
let page;
const problems = []; // page errors and CSP violations
const requests = []; // every request the page made

before(async () => {
  assert.ok(process.env.DATABASE_URL, "DATABASE_URL must point at a PostgreSQL server");
  mkdirSync(screenshots, { recursive: true });
  stack = spawn(path.join(binDir, "pmhub-stack"), ["--work-dir", path.join(root, "target/pmhub-stack")], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  env = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: stack.stdout });
    lines.once("line", (line) => resolve(JSON.parse(line)));
    stack.once("exit", (code) => reject(new Error(`pmhub-stack exited (${code}) before it was ready`)));
    setTimeout(() => reject(new Error("pmhub-stack was not ready within 120 s")), 120_000).unref();
  });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    // Playwright gives every launch a fresh, temporary profile (user data dir).
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => requests.push({ url: r.url(), headers: r.headers() }));
});

after(async () => {
  await browser?.close();
  if (stack && stack.exitCode === null) {
    // Closing its stdin makes pmhub-stack stop pmhub and the fake and drop its database.
    const exited = new Promise((resolve) => stack.once("exit", resolve));
    stack.stdin.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (stack.exitCode === null) stack.kill("SIGTERM");
  }
});

const button = (name) => page.getByRole("button", { name, exact: true });
const dialog = () => page.getByRole("dialog", { name: "Sync with GitHub" });

async function openSyncDialog() {
  await button("Sync with GitHub").click();
  await dialog().waitFor();
}

async function syncFromDialog(owner, repository) {
  const d = dialog();
  await d.getByLabel("Owner", { exact: true }).fill(owner);
  await d.getByLabel("Repository", { exact: true }).fill(repository);
  await d.getByRole("button", { name: "Sync", exact: true }).click();
}

async function summaryCount(name) {
  const summary = dialog().locator(".summary");
  await summary.waitFor();
  return Number(await summary.locator(`[data-count="${name}"]`).textContent());
}

test("the web UI, end to end", async (t) => {
  await t.test("/ui/ is served with a strict policy and signs in with a pasted token", async () => {
    const response = await page.goto(env.ui_url);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.match(headers["content-security-policy"], /^default-src 'self'/);
    assert.equal(headers["cache-control"], "no-cache");

    await page.getByLabel("API token").fill(env.admin_token);
    await button("Sign in").click();
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("pmhub.token")), env.admin_token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  await t.test("an admin connects GitHub; the login and hint are shown", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("GitHub token").fill(env.github_token);
    await button("Connect GitHub").click();
    const status = page.locator(".connection");
    await status.waitFor();
    const text = await status.textContent();
    assert.match(text, /Connected as alice/);
    assert.match(text, new RegExp(`…${env.github_token.slice(-4)}`));
    assert.equal(await page.getByLabel("GitHub token").inputValue(), "");
  });

  await t.test("create a project, then open it from the projects list", async () => {
    await page.getByRole("link", { name: "Projects", exact: true }).click();
    await page.getByLabel("Project name").fill("Website relaunch");
    await page.getByLabel("Project description").fill("New marketing site");
    await button("Create project").click();
    await page.getByRole("heading", { name: "Website relaunch" }).waitFor();
    await page.getByRole("link", { name: "Projects", exact: true }).click();
    await page.getByRole("link", { name: "Website relaunch" }).click();
    await page.getByRole("heading", { name: "Website relaunch" }).waitFor();
    assert.match(page.url(), /\/ui\/projects\/website-relaunch-[a-z0-9]{6}$/);
    // A client-side route survives a reload (the server answers it with index.html).
    await page.reload();
    await page.getByRole("heading", { name: "Website relaunch" }).waitFor();
  });

  await t.test("the sync dialog imports the repository: 250 items seen", async () => {
    await openSyncDialog();
    const d = dialog();
    // The dropdown lists what the token can reach, and not the hidden repository.
    const choice = d.getByLabel("Repositories this token can reach");
    await choice.locator(`option[value="${env.org}/${env.repo}"]`).waitFor({ state: "attached" });
    const options = await choice.locator("option").allTextContents();
    assert.ok(options.some((o) => o.startsWith(`${env.org}/handbook`)), options.join());
    assert.ok(!options.some((o) => o.includes(env.hidden_repo)), options.join());

    await syncFromDialog(env.org, env.repo);
    assert.equal(await summaryCount("total_seen"), env.items);
    assert.equal(await summaryCount("created"), 225);
    assert.equal(await summaryCount("pull_requests_ignored"), 25);
    assert.equal(await summaryCount("skipped"), 0);
    await page.screenshot({ path: path.join(screenshots, "sync-dialog.png") });
    await d.getByRole("button", { name: "Close", exact: true }).first().click();
    await d.waitFor({ state: "hidden" });
  });

  await t.test("the tasks page lists the imported tasks with paging", async () => {
    const rows = page.getByRole("table", { name: "Tasks" }).locator("tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 50);
    const first = await rows.first().textContent();
    assert.match(first, new RegExp(`${env.org}/${env.repo}#1`));
    await button("Next page").click();
    await page.getByText("Page 2", { exact: true }).waitFor();
    assert.match(await rows.first().textContent(), /^51/);
    await button("Previous page").click();
    await page.getByText("Page 1", { exact: true }).waitFor();
    assert.match(await rows.first().textContent(), /^1\D/);
  });

  await t.test("syncing again creates nothing new", async () => {
    await openSyncDialog();
    // Pre-filled from the last values? No: from the project's repository (none yet), so type them.
    await syncFromDialog(env.org, env.repo);
    assert.equal(await summaryCount("created"), 0);
    assert.equal(await summaryCount("skipped"), 225);
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "hidden" });
  });

  await t.test("create and edit a task", async () => {
    await button("New task").click();
    const d = page.getByRole("dialog", { name: "New task" });
    await d.getByLabel("Title").fill("Write the launch post");
    await d.getByLabel("Labels").fill("marketing, launch");
    await d.getByLabel("Priority").selectOption("high");
    await d.getByRole("button", { name: "Create task" }).click();
    await d.waitFor({ state: "hidden" });
    // Tasks are listed by number: the new one (226) is on page 5.
    for (let i = 2; i <= 5; i++) {
      await button("Next page").click();
      await page.getByText(`Page ${i}`, { exact: true }).waitFor();
    }
    assert.ok(await button("Next page").isDisabled());
    const row = page.locator('tr[data-task="226"]');
    await row.waitFor();
    assert.match(await row.textContent(), /Write the launch post.*todo.*high.*marketing.*launch/);

    await page.getByRole("button", { name: "Edit task 226" }).click();
    const edit = page.getByRole("dialog", { name: "Edit task 226" });
    await edit.getByLabel("Status").selectOption("in_progress");
    await edit.getByRole("button", { name: "Save task" }).click();
    await edit.waitFor({ state: "hidden" });
    await page.locator('tr[data-task="226"] .status-in_progress').waitFor();
  });

  await t.test("an admin sets the project's repository; the dialog is pre-filled with it", async () => {
    await page.getByLabel("Project repository").fill(`${env.org}/${env.repo}`);
    await button("Set repository").click();
    await page.getByText(`Repository set to ${env.org}/${env.repo}.`).waitFor();
    await openSyncDialog();
    assert.equal(await dialog().getByLabel("Owner", { exact: true }).inputValue(), env.org);
    assert.equal(await dialog().getByLabel("Repository", { exact: true }).inputValue(), env.repo);
    await page.keyboard.press("Escape");
  });

  await t.test("push the task to GitHub and see it linked", async () => {
    await button("Push to GitHub").click();
    await page.getByText(`Pushed to ${env.org}/${env.repo}: 1 created, 225 already linked.`).waitFor();
    const link = page.locator('tr[data-task="226"] a');
    await link.waitFor();
    assert.equal(await link.textContent(), `${env.org}/${env.repo}#251`);
    // The history shows both imports and the push.
    const history = page.getByRole("table", { name: "Sync history" }).locator("tbody tr");
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Sync history"] tbody tr').length === 3);
    assert.match(await history.first().textContent(), /push/);
    await page.screenshot({ path: path.join(screenshots, "tasks.png"), fullPage: true });
  });

  await t.test("an admin submits and approves the spec; the repository outcome is shown", async () => {
    await button("Submit spec").click();
    await page.getByText("Status: interviewing").waitFor();
    await button("Approve spec").click();
    await page.getByText(`Repository: already set (${env.org}/${env.repo})`).waitFor();
    await page.getByText("Status: review").waitFor();
  });

  await t.test("a repository the token cannot see gives the error and what to do", async () => {
    await openSyncDialog();
    const [owner, name] = env.hidden_repo.split("/");
    await syncFromDialog(owner, name);
    const alert = dialog().getByRole("alert");
    await alert.waitFor();
    const text = await alert.textContent();
    assert.match(text, /GITHUB_NOT_FOUND/);
    assert.match(text, /token cannot see this repository/);
    await page.keyboard.press("Escape");
  });

  await t.test("the token went only in the Authorization header", async () => {
    const api = requests.filter((r) => r.url.includes("/api/v1/"));
    assert.ok(api.length > 10);
    for (const r of requests) assert.ok(!r.url.includes(env.admin_token), `token in URL ${r.url}`);
    for (const r of api) assert.equal(r.headers["authorization"], `Bearer ${env.admin_token}`, r.url);
    assert.deepEqual(problems, []);
  });

  await t.test("sign out forgets the token", async () => {
    await button("Sign out").click();
    await page.getByLabel("API token").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("pmhub.token")), null);
    assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
    // A reload stays signed out.
    await page.reload();
    await page.getByLabel("API token").waitFor();
  });

  await t.test("a wrong token is refused with the error shown", async () => {
    await page.getByLabel("API token").fill("pmh_not-a-real-token");
    await button("Sign in").click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.textContent(), /UNAUTHENTICATED/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });
});
