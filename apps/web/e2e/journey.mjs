// The whole user journey in headless Chromium (playwright-core, Debian's browser), run by
// tests/test_browser_journey.py against real services. Saves a screenshot of every page and
// the compressed JavaScript each route loads cold (js-budget.json).
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS;
const RUN = process.env.RUN_ID ?? String(Date.now());
const ADMIN_EMAIL = process.env.ADMIN_EMAIL;
const ORCHESTRATOR = process.env.ORCHESTRATOR_URL;
const PASSWORD = "journey-pass-1";
const TIMEOUT = 60_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

function step(name) {
  console.log(`- ${name}`);
}

const failures = [];
function watch(page) {
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) {
      failures.push(`console error: ${m.text()}`);
    }
  });
}

let page;
try {
  const context = await browser.newContext({ baseURL: BASE, acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  page = await context.newPage();
  watch(page);

  step("a visitor is sent to the login page");
  await page.goto("/dashboard");
  await page.waitForURL(/\/login/);
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await screenshot(page, "login");

  step("sign up: a short password is refused next to the field");
  const email = `journey-${RUN}@example.com`;
  await page.getByRole("link", { name: "Sign up" }).click();
  await page.waitForURL(/\/signup/);
  await page.getByLabel("Name").fill("Journey Tester");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  // The API's message appears under the password field (not the hint, which says the same).
  await page.getByRole("alert").filter({ hasText: /should have at least 8 characters/i }).waitFor();
  await screenshot(page, "signup-error");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/dashboard/);
  await page.getByText("No organization yet").waitFor();
  await screenshot(page, "dashboard-empty");

  step("the session cookie is httpOnly and SameSite=Strict, invisible to page scripts");
  const cookie = (await context.cookies()).find((c) => c.name === "phi_session");
  assert.ok(cookie, "session cookie set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie.includes("phi_session")), false);

  step("a cross-origin write with the cookie is refused");
  const forged = await fetch(`${BASE}/api/core/orgs`, {
    method: "POST",
    headers: { cookie: `phi_session=${cookie.value}`, origin: "http://evil.example", "content-type": "application/json" },
    body: JSON.stringify({ name: "forged" }),
  });
  assert.equal(forged.status, 403);

  step("create an organization");
  await page.getByLabel("Organization name").fill(`Acme Logistics ${RUN}`);
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
  const orgId = page.url().split("/").pop();
  await page.getByText("No agents yet").waitFor();
  await screenshot(page, "org-overview");

  step("members page");
  await page.getByRole("link", { name: "Members", exact: true }).click();
  await page.waitForURL(/\/members$/);
  await page.getByRole("cell", { name: new RegExp(email) }).waitFor();
  await page.getByLabel("Email").fill(`nobody-${RUN}@example.com`);
  await page.getByRole("button", { name: "Invite", exact: true }).click();
  // The same answer whether or not the address has an account (no enumeration).
  await page.getByText(`Invitation sent to nobody-${RUN}@example.com.`).waitFor();
  await screenshot(page, "members");

  step("create an agent: industry, role, name, tools with settings");
  await page.getByRole("link", { name: "Agents", exact: true }).first().click();
  await page.waitForURL(/\/agents$/);
  await page.getByRole("link", { name: "Create agent" }).first().click();
  await page.waitForURL(/\/agents\/new$/);
  await page.getByText("Logistics & Warehousing", { exact: true }).click();
  await page.getByText("Warehouse Analyst", { exact: true }).click();
  await page.getByLabel("Agent name").fill("Night shift analyst");
  await page.getByText("Database settings").waitFor();
  // A bad setting is caught beside its input before anything is sent.
  const connection = page.getByLabel("Connection name (required)");
  await connection.fill("Bad Name");
  await page.getByRole("button", { name: "Create agent" }).click();
  await page.getByText(/must match/).waitFor();
  await screenshot(page, "agent-new");
  await connection.fill("warehouse");
  await page.getByRole("button", { name: "Create agent" }).click();
  await page.waitForURL(/\/agents\/[0-9a-f-]+$/);
  const agentId = page.url().split("/").pop();
  await page.getByRole("heading", { name: "Night shift analyst" }).waitFor();
  await screenshot(page, "agent-overview");

  step("tools tab");
  await page.getByRole("tab", { name: "Tools" }).click();
  await page.getByRole("button", { name: "Save tool settings" }).waitFor();
  await page.getByLabel("Max rows (required)").fill("500");
  await page.getByRole("button", { name: "Save tool settings" }).click();
  await page.getByText("Saved.").waitFor();
  await screenshot(page, "agent-tools");

  step("documents: upload, wait for READY, search");
  await page.getByRole("tab", { name: "Documents" }).click();
  await page.getByText("No documents yet").waitFor();
  const sop = await readFile(new URL("./fixtures/warehouse-sop.md", import.meta.url));
  await page.locator("input[type=file]").setInputFiles({ name: "warehouse-sop.md", mimeType: "text/markdown", buffer: sop });
  await page.getByRole("button", { name: "Upload" }).click();
  await page.getByTestId("document-row").getByText("READY").waitFor({ timeout: 120_000 });
  await page.getByLabel("Search the documents").fill("when must the daily stock report be sent?");
  await page.getByRole("button", { name: "Search" }).click();
  const hit = page.getByTestId("search-hit").first();
  await hit.waitFor();
  assert.match(await hit.innerText(), /warehouse-sop\.md/);
  await screenshot(page, "agent-documents");

  step("profile: generate and see the system prompt and version 1");
  await page.getByRole("tab", { name: "Profile" }).click();
  await page.getByRole("button", { name: "Generate Profile" }).click();
  await page.getByText("SUCCEEDED").waitFor({ timeout: 120_000 });
  await page.getByTestId("system-prompt").waitFor();
  await page.getByRole("button", { name: "Version 1" }).waitFor();
  await page.getByText("System prompt of version 1").waitFor();
  await screenshot(page, "agent-profile");

  step("overview: the schedules card says what the scheduler runs, and when");
  await page.getByRole("tab", { name: "Overview" }).click();
  const schedules = page.getByRole("list", { name: "Configured schedules" });
  await schedules.getByText("DAILY_WAREHOUSE_REPORT").waitFor();
  await schedules.getByText("runs", { exact: true }).waitFor();
  await page.getByText(/Next run/).first().waitFor();
  await screenshot(page, "agent-schedules");
  // A workflow of a type that does not exist, saved by hand: the card says it will not run.
  const saved = await page.evaluate(async (id) => {
    const agent = await (await fetch(`/api/core/agents/${id}`)).json();
    const workflows = [...agent.config.workflows, { type: "MONTHLY_FIRST_WORKING_SEND", schedule: "0 9 1 * *" }];
    const r = await fetch(`/api/core/agents/${id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ config: { ...agent.config, workflows } }),
    });
    return r.status;
  }, agentId);
  assert.equal(saved, 200);
  await page.reload();
  await schedules.getByText("does not run").waitFor();
  await schedules.getByText(/Why not: there is no workflow type 'MONTHLY_FIRST_WORKING_SEND'/).waitFor();
  await screenshot(page, "agent-schedule-not-run");

  step("config: YAML shown and downloaded");
  await page.getByRole("tab", { name: "Config" }).click();
  const yaml = await page.getByTestId("config-yaml").innerText();
  assert.match(yaml, /warehouse/);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download Config" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /\.yaml$/);
  const downloaded = await readFile(await download.path(), "utf8");
  assert.equal(downloaded.trim(), yaml.trim());
  await screenshot(page, "agent-config");

  step("local agents: a key is shown once, then listed");
  await page.getByRole("tab", { name: "Local agents" }).click();
  await page.getByText("No local agent has connected yet").waitFor();
  await page.getByLabel("Key name").fill("warehouse-pc");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByTestId("new-key-secret").innerText();
  assert.ok(secret.length > 20, "the new key is shown");
  await page.getByRole("button", { name: "Revoke key warehouse-pc" }).waitFor();
  await screenshot(page, "agent-local-agents");

  step("local agents: a local agent reports its last data contract check; the panel says what is wrong");
  const checkedTables = ["zones", "pickers", "docks", "picks", "orders", "shipments"].map((table) => ({
    table,
    source: "mapping",
    rows: table === "zones" ? 5 : 200,
    ok: table !== "orders",
    problems:
      table === "orders"
        ? ["orders.due_at: '24.11.2026 14:00' is not a timestamp the report reads (ISO 8601, e.g. 2026-11-24 09:15:00) (1 of 200 rows)"]
        : [],
  }));
  // What `phi-agent run` sends after `phi-agent contract check` ran on the machine.
  const heartbeat = await fetch(`${ORCHESTRATOR}/local-agents/heartbeat`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({
      name: "warehouse-pc",
      host: "wms-01",
      version: "0.1.0",
      tools: ["db"],
      contract_check: [
        { contract: "warehouse", connection: "wms", checked_at: new Date().toISOString(), ok: false, tables: checkedTables },
      ],
    }),
  });
  assert.equal(heartbeat.status, 200, await heartbeat.text());
  await page.reload();
  await page.getByRole("tab", { name: "Local agents" }).click();
  const check = page.getByTestId("contract-check");
  await check.getByText("1 of 6 tables wrong: orders", { exact: false }).waitFor();
  assert.match(await check.innerText(), /orders\.due_at: '24\.11\.2026 14:00' is not a timestamp/);
  await screenshot(page, "agent-local-agent-contract-check");

  step("local agents: the warehouse report's data contract, as GET /workflows declares it");
  const contract = page.getByRole("region", { name: "Data contract of DAILY_WAREHOUSE_REPORT" });
  await contract.getByText("shipments", { exact: true }).click();
  const shipments = contract.getByRole("table", { name: "Columns of shipments" });
  await shipments.getByText("loading_started_at").waitFor();
  assert.match(await shipments.innerText(), /its idle gaps are not available/);
  await screenshot(page, "agent-data-contract");

  step("tasks: run the test task on sample data, events arrive live, the report renders");
  await page.getByRole("tab", { name: "Tasks" }).click();
  await page.getByText("No tasks yet").waitFor();
  await page.getByRole("button", { name: "Run Test Task (Daily Warehouse Report)" }).click();
  await page.getByTestId("task-events").getByText("step_started").first().waitFor();
  const report = page.getByTestId("task-report");
  await report.waitFor({ timeout: 180_000 });
  assert.match(await report.innerText(), /Daily warehouse report/i);
  await page.getByTestId("task-view").getByText("SUCCESS").waitFor();
  await page.getByTestId("task-history").getByText("SUCCESS").waitFor();
  await screenshot(page, "agent-tasks");
  await page.getByLabel("Status", { exact: true }).selectOption("FAILED");
  await page.getByText("No FAILED tasks").waitFor();

  step("give the agent a task: a suggestion, the live timeline, an approval in place, the answer");
  await page.getByRole("tab", { name: "Tools" }).click();
  const approvalBox = page.getByRole("checkbox", { name: "remember" });
  await Promise.all([
    page.waitForResponse((r) => r.url().includes(`/agents/${agentId}`) && r.request().method() === "PATCH"),
    approvalBox.check(),
  ]);
  assert.ok(await approvalBox.isChecked());
  await page.getByRole("tab", { name: "Tasks" }).click();
  const give = page.getByTestId("give-task");
  await give.getByRole("button", { name: /^Which zone had the most late orders yesterday/ }).click();
  assert.match(await give.getByLabel("Task").inputValue(), /late orders/);
  await give.getByRole("button", { name: "Give the task" }).click();
  const view = page.getByTestId("task-view");
  await view.getByText("AGENT_TASK").waitFor();
  await view.getByTestId("task-events").getByText("search_documents").first().waitFor();
  const approval = view.getByTestId("approval-box");
  await approval.waitFor({ timeout: 60_000 });
  assert.match(await approval.innerText(), /remember/);
  await screenshot(page, "agent-task-approval");
  await approval.getByRole("button", { name: "Approve" }).click();
  const answer = view.getByTestId("task-answer");
  await answer.waitFor({ timeout: 60_000 });
  assert.match(await answer.innerText(), new RegExp(process.env.AGENT_ANSWER.slice(0, 30)));
  assert.match(await answer.innerText(), /Evidence/);
  await view.getByText("SUCCESS").first().waitFor();
  await view.getByTestId("task-events").getByText("remember approved").waitFor();
  await screenshot(page, "agent-task");

  step("dashboard shows the org's counts");
  await page.goto("/dashboard");
  await page.getByRole("link", { name: `Acme Logistics ${RUN}` }).waitFor();
  await screenshot(page, "dashboard");

  step("a non-admin gets no admin page");
  await page.goto("/admin");
  await page.getByText("Not found").waitFor();

  step("log out, then log in with the form");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").waitFor();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/dashboard/);
  const userState = await context.storageState();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);

  step("a platform admin sees every org on /admin");
  await page.goto("/signup");
  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/dashboard/);
  await page.getByRole("link", { name: "Admin" }).click();
  await page.waitForURL(/\/admin$/);
  await page.getByTestId("admin-orgs").getByText(`Acme Logistics ${RUN}`).waitFor();
  // The journey's task, found through the organization filter, with its events.
  await page.getByLabel("Organization", { exact: true }).selectOption({ label: `Acme Logistics ${RUN}` });
  const adminTask = page.getByTestId("admin-tasks").getByRole("row").filter({ hasText: "DAILY_WAREHOUSE_REPORT" });
  await adminTask.getByText("SUCCESS").waitFor();
  assert.equal(await adminTask.count(), 1);
  await adminTask.getByRole("button", { name: "Events" }).click();
  await page.getByTestId("admin-task-events").getByText("task_succeeded").waitFor();
  await screenshot(page, "admin");
  const adminState = await context.storageState();
  await context.close();

  step("JavaScript of a cold load of each route (compressed bytes)");
  const routes = {
    "/login": null,
    "/signup": null,
    "/dashboard": userState,
    "/orgs/[orgId]": userState,
    "/orgs/[orgId]/members": userState,
    "/orgs/[orgId]/agents": userState,
    "/orgs/[orgId]/agents/new": userState,
    "/agents/[agentId]": userState,
    "/admin": adminState,
  };
  const budget = {};
  for (const [route, state] of Object.entries(routes)) {
    const cold = await browser.newContext({ baseURL: BASE, storageState: state ?? undefined });
    const coldPage = await cold.newPage();
    let bytes = 0;
    const pending = [];
    coldPage.on("requestfinished", (request) => {
      if (request.resourceType() === "script") {
        pending.push(request.sizes().then((s) => (bytes += s.responseBodySize)));
      }
    });
    const path = route.replace("[orgId]", orgId).replace("[agentId]", agentId);
    await coldPage.goto(path, { waitUntil: "networkidle" });
    await Promise.all(pending);
    assert.ok(bytes > 0, `no script measured for ${route}`);
    budget[route] = bytes;
    console.log(`  ${route}: ${(bytes / 1024).toFixed(1)} kB`);
    await cold.close();
  }
  await writeFile(join(SHOTS, "js-budget.json"), JSON.stringify(budget, null, 2));

  assert.deepEqual(failures, [], "the pages logged errors");
  console.log("journey passed");
} catch (error) {
  if (page && !page.isClosed()) await screenshot(page, "FAILED").catch(() => undefined);
  console.log(`failed at ${page?.url()}`);
  throw error;
} finally {
  await browser.close();
}
