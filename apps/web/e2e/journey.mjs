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
// The orchestrator itself, where the journey plays a local agent (heartbeat, claim).
const ORCHESTRATOR = process.env.ORCHESTRATOR_URL;
const PASSWORD = "journey-pass-1";
const WRONG_PASSWORD = "wrong password";
// Every password typed and every secret shown: the test scans the audit log for them.
const secretsSeen = [PASSWORD, WRONG_PASSWORD];
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

  step("create an organization with a double click: one is made");
  await page.getByLabel("Organization name").fill(`Acme Logistics ${RUN}`);
  await page.getByRole("button", { name: "Create organization" }).dblclick();
  await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
  const orgId = page.url().split("/").pop();
  const orgNames = await page.evaluate(async () => (await (await fetch("/api/core/orgs")).json()).map((o) => o.name));
  assert.deepEqual(orgNames, [`Acme Logistics ${RUN}`]);
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

  step("create an agent: industry, role, name, tools (their settings live in policy.yaml)");
  await page.getByRole("link", { name: "Agents", exact: true }).first().click();
  await page.waitForURL(/\/agents$/);
  await page.getByRole("link", { name: "Create agent" }).first().click();
  await page.waitForURL(/\/agents\/new$/);
  await page.getByText("Logistics & Warehousing", { exact: true }).click();
  await page.getByText("Warehouse Analyst", { exact: true }).click();
  await page.getByLabel("Agent name").fill("Night shift analyst");
  await page.getByText("Database settings").waitFor();
  // No host, driver or password to fill in: phi-agent would never read them.
  assert.match(await page.getByTestId("tool-settings-none").first().innerText(), /policy\.yaml/);
  assert.equal(await page.getByLabel(/Host|Driver|Password/).count(), 0);
  await screenshot(page, "agent-new");
  await page.getByRole("button", { name: "Create agent" }).dblclick();
  await page.waitForURL(/\/agents\/[0-9a-f-]+$/);
  const agentId = page.url().split("/").pop();
  await page.getByRole("heading", { name: "Night shift analyst" }).waitFor();
  const agentCount = await page.evaluate(async (id) => (await (await fetch(`/api/core/orgs/${id}/agents`)).json()).length, orgId);
  assert.equal(agentCount, 1, "a double click on Create agent made one agent");
  await screenshot(page, "agent-overview");

  step("tools tab: says where the database and file settings live");
  await page.getByRole("tab", { name: "Tools" }).click();
  await page.getByTestId("tool-settings-none").first().waitFor();
  assert.equal(await page.getByTestId("tool-settings-none").count(), 2);
  assert.equal(await page.getByRole("button", { name: "Save tool settings" }).count(), 0);
  await screenshot(page, "agent-tools");

  step("documents: upload, wait for READY, search");
  await page.getByRole("tab", { name: "Documents" }).click();
  await page.getByText("No documents yet").waitFor();
  const sop = await readFile(new URL("./fixtures/warehouse-sop.md", import.meta.url));
  // A file name with underscores, as customers name theirs: the report names it verbatim.
  await page.locator("input[type=file]").setInputFiles({ name: "dispatch_jd_sop.md", mimeType: "text/markdown", buffer: sop });
  // A double click uploads once (the second send is ignored, and would carry the same key).
  await page.getByRole("button", { name: "Upload" }).dblclick();
  await page.getByTestId("document-row").getByText("READY").waitFor({ timeout: 120_000 });
  const docCount = await page.evaluate(async (id) => (await (await fetch(`/api/core/agents/${id}/documents`)).json()).length, agentId);
  assert.equal(docCount, 1, "a double click on Upload stored one document");
  await page.getByLabel("Search the documents").fill("when must the daily stock report be sent?");
  await page.getByRole("button", { name: "Search" }).click();
  const hit = page.getByTestId("search-hit").first();
  await hit.waitFor();
  assert.match(await hit.innerText(), /dispatch_jd_sop\.md/);
  // The section a passage sits under is shown whole, on its own line.
  assert.match(await hit.getByTestId("search-hit-section").innerText(), /^Section: Warehouse daily operations SOP › /);
  await screenshot(page, "agent-documents");

  step("profile: generate and see the system prompt and version 1");
  await page.getByRole("tab", { name: "Profile" }).click();
  await page.getByRole("button", { name: "Generate Profile" }).dblclick();
  await page.getByText("SUCCEEDED").waitFor({ timeout: 120_000 });
  const generations = await page.evaluate(async (id) => (await (await fetch(`/api/core/agents/${id}/profile-versions`)).json()).length, agentId);
  assert.equal(generations, 1, "a double click on Generate Profile made one version");
  await page.getByTestId("system-prompt").waitFor();
  await page.getByRole("button", { name: "Version 1" }).waitFor();
  await page.getByText("System prompt of version 1").waitFor();
  // The profile in sections, and nothing wider than the window (the versions panel was).
  await page.getByTestId("profile-sections").getByRole("heading", { name: /Capabilities/ }).waitFor();
  assert.ok(
    (await page.evaluate(() => document.documentElement.scrollWidth)) <= 1280,
    "the profile tab is wider than the window",
  );
  await screenshot(page, "agent-profile");

  step("overview: the schedules card says what the scheduler runs, and when");
  await page.getByRole("tab", { name: "Overview" }).click();
  const schedules = page.getByRole("list", { name: "Configured schedules" });
  await schedules.getByText("DAILY_WAREHOUSE_REPORT").waitFor();
  await schedules.getByText("runs", { exact: true }).waitFor();
  await page.getByText(/Next run/).first().waitFor();
  await screenshot(page, "agent-schedules");
  // A workflow of a type that does not exist, saved by hand: the card says it will not run.
  // And an agent task on a schedule (29 February, so it does not fire during the journey): the
  // card shows what it will be told, cut short, whole on hover and on "Show all".
  const instruction =
    "Every Monday morning, list last week's late orders by zone, say which carrier was late most " +
    "often, and compare with the week before; keep it to one table and three sentences.";
  const saved = await page.evaluate(
    async ({ id, instruction }) => {
      const agent = await (await fetch(`/api/core/agents/${id}`)).json();
      const workflows = [
        ...agent.config.workflows,
        { type: "MONTHLY_FIRST_WORKING_SEND", schedule: "0 9 1 * *" },
        { type: "AGENT_TASK", schedule: "30 4 29 2 *", input: { instruction } },
      ];
      const r = await fetch(`/api/core/agents/${id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ config: { ...agent.config, workflows } }),
      });
      return r.status;
    },
    { id: agentId, instruction },
  );
  assert.equal(saved, 200);
  await page.reload();
  await schedules.getByText("does not run").waitFor();
  await schedules.getByText(/Why not: there is no workflow type 'MONTHLY_FIRST_WORKING_SEND'/).waitFor();
  const scheduledTask = schedules.getByRole("listitem").filter({ hasText: "AGENT_TASK" });
  const shownInstruction = scheduledTask.getByTestId("schedule-instruction");
  assert.equal(await shownInstruction.getAttribute("title"), instruction);
  const cut = await shownInstruction.innerText();
  assert.ok(cut.endsWith("…") && instruction.startsWith(cut.slice(0, -1)), `instruction shown: ${cut}`);
  await screenshot(page, "agent-schedule-not-run");
  await scheduledTask.getByRole("button", { name: "Show all" }).click();
  assert.equal(await shownInstruction.innerText(), instruction);

  step("config: YAML shown and downloaded");
  await page.getByRole("tab", { name: "Config" }).click();
  const yaml = await page.getByTestId("config-yaml").innerText();
  assert.match(yaml, /warehouse/);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download Config" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "phi-agent-config.yaml");
  const downloaded = await readFile(await download.path(), "utf8");
  assert.equal(downloaded.trim(), yaml.trim());
  const [policyDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Starter policy.yaml" }).click(),
  ]);
  assert.equal(policyDownload.suggestedFilename(), "policy.yaml");
  const policy = await readFile(await policyDownload.path(), "utf8");
  assert.match(policy, /dsn_env: PHI_WAREHOUSE_DSN/);
  assert.match(policy, /roots: \[exports\]/);
  await screenshot(page, "agent-config");

  step("local agents: a key is shown once, then listed");
  await page.getByRole("tab", { name: "Local agents" }).click();
  await page.getByText("No local agent has connected yet").waitFor();
  await page.getByLabel("Key name").fill("warehouse-pc");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByTestId("new-key-secret").innerText();
  secretsSeen.push(secret);
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

  step("tasks: send reports to an email address (deliver_to)");
  await page.getByRole("tab", { name: "Tasks" }).click();
  await page.getByText("No tasks yet").waitFor();
  // The delivery parts load on demand, out of the tab's cold JavaScript.
  await page.getByRole("button", { name: "Delivery settings" }).click();
  const delivery = page.getByTestId("delivery-settings");
  await delivery.getByLabel("Email address").fill("ops@example.com");
  await delivery.getByRole("button", { name: "Add destination" }).click();
  await delivery.getByTestId("delivery-destinations").getByText("ops@example.com").waitFor();
  // A webhook: its signing secret is shown once; "New secret" replaces it (and it is removed
  // again before the report runs, so that only the email is delivered).
  const hookUrl = "http://127.0.0.1:9/phi-hook";
  await delivery.getByLabel("Send by").selectOption("webhook");
  await delivery.getByLabel("Webhook URL (https://…)").fill(hookUrl);
  await delivery.getByRole("button", { name: "Add destination" }).click();
  const firstSecret = (await delivery.getByTestId("webhook-secret").innerText()).trim();
  assert.match(firstSecret, /^whsec_/);
  page.once("dialog", (dialog) => dialog.accept());
  await delivery.getByRole("button", { name: `New signing secret for ${hookUrl}` }).click();
  await delivery.getByTestId("webhook-secret").filter({ hasNotText: firstSecret }).waitFor();
  const newSecret = (await delivery.getByTestId("webhook-secret").innerText()).trim();
  assert.match(newSecret, /^whsec_/);
  assert.notEqual(newSecret, firstSecret);
  secretsSeen.push(firstSecret, newSecret);
  await screenshot(page, "agent-delivery-secret-rotated");
  await delivery.getByRole("button", { name: `Remove ${hookUrl}` }).click();
  await delivery.getByRole("button", { name: `Remove ${hookUrl}` }).waitFor({ state: "detached" });
  assert.equal(await delivery.getByTestId("webhook-secret").count(), 0, "a removed webhook's secret is no longer shown");

  step("tasks: run the test task on sample data, events arrive live, the report renders");
  await page.getByRole("button", { name: "Run Test Task (Daily Warehouse Report)" }).click();
  await page.getByTestId("task-events").getByText("step_started").first().waitFor();
  const report = page.getByTestId("task-report");
  await report.waitFor({ timeout: 180_000 });
  // The Markdown reader arrives with the first report (its own chunk): wait for what it drew.
  await report.locator(".markdown h2").first().waitFor();
  assert.match(await report.innerText(), /Daily warehouse report/i);
  await page.getByTestId("task-view").getByText("SUCCESS").waitFor();
  await page.getByTestId("task-history").getByText("SUCCESS").waitFor();
  step("tasks: the report's charts are drawn, its delivery is listed, its PDF downloads");
  // The charts load when they scroll into view.
  await page.getByTestId("report-charts-placeholder").scrollIntoViewIfNeeded();
  const charts = page.getByTestId("report-charts");
  await charts.locator("svg").nth(4).waitFor();
  assert.equal(await charts.getByTestId("report-chart").count(), 5);
  assert.ok((await charts.locator(".ct-bar").count()) > 10, "bars drawn");
  assert.ok((await charts.locator(".ct-line").count()) >= 3, "lines drawn");
  // This stack has no mail server (PHI_SMTP_URL unset): the attempt is recorded and given up.
  await page.getByRole("button", { name: "Show deliveries" }).click();
  await page.getByTestId("task-deliveries").getByText("given up").waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId("task-deliveries").innerText(), /PHI_SMTP_URL is not set/);
  await screenshot(page, "agent-tasks");
  await charts.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, "report-charts.png") });
  const [pdfDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("download-pdf").click(),
  ]);
  assert.match(pdfDownload.suggestedFilename(), /^daily_warehouse_report-\d{4}-\d{2}-\d{2}\.pdf$/);
  const pdf = await readFile(await pdfDownload.path());
  assert.equal(pdf.subarray(0, 5).toString(), "%PDF-");
  assert.ok(pdf.length > 20_000, `PDF of ${pdf.length} bytes`);

  step("the report's Markdown: tables, and file names with underscores kept as written");
  assert.ok((await report.locator("table").count()) > 0, "the report's tables render as tables");
  assert.match(await report.innerText(), /dispatch_jd_sop\.md/);
  assert.equal(await report.locator("em", { hasText: /^jd$/ }).count(), 0);

  step("a reload keeps the open tab and the open task");
  const taskUrl = new URL(page.url());
  assert.equal(taskUrl.searchParams.get("tab"), "tasks");
  const taskId = taskUrl.searchParams.get("task");
  assert.ok(taskId, "the open task is in the URL");
  await page.reload();
  await page.getByRole("tab", { name: "Tasks", selected: true }).waitFor();
  await page.getByTestId("task-report").waitFor();
  await page.getByTestId("task-view").getByText("SUCCESS").waitFor();

  step("a task on the customer's data waits for a local agent, and says why");
  await page.getByLabel("Through the local agent").check();
  await page.getByRole("button", { name: "Run Test Task (Daily Warehouse Report)" }).click();
  const waiting = page.getByTestId("task-waiting");
  // The local agent that reported its contract check above is online, or went offline since
  // (after three missed heartbeats): either way the page says which.
  await waiting
    .getByText(/^Waiting for (warehouse-pc to pick up the db call|a local agent of this agent; none is online — last seen .* \(warehouse-pc\))/)
    .waitFor();
  await screenshot(page, "task-waiting-unclaimed");
  // A local agent comes online with the key made above and takes the call.
  const asLocalAgent = { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" };
  const beat = await fetch(`${ORCHESTRATOR}/local-agents/heartbeat`, {
    method: "POST",
    headers: asLocalAgent,
    body: JSON.stringify({ name: "warehouse-pc-1", host: "wh-floor-1", version: "journey", tools: ["db"] }),
  });
  assert.equal(beat.status, 200);
  const { local_agent_id: localAgentId } = await beat.json();
  const polled = await fetch(`${ORCHESTRATOR}/local-agents/${localAgentId}/pending-tasks?wait=10`, { headers: asLocalAgent });
  assert.equal((await polled.json()).tasks.length, 1);
  await waiting.getByText(/^Claimed by warehouse-pc-1 on wh-floor-1/).waitFor();
  await screenshot(page, "task-waiting-claimed");

  step("cancel the waiting task from its page");
  await page.getByRole("button", { name: "Cancel task" }).click();
  await page.getByTestId("task-view").getByText("CANCELLED", { exact: true }).waitFor();
  assert.equal(await waiting.count(), 0);
  await page.getByRole("button", { name: "Cancel task" }).waitFor({ state: "detached" });
  await page.getByLabel("Status", { exact: true }).selectOption("FAILED");
  await page.getByText("No FAILED tasks").waitFor();

  step("memory: the report's day is remembered with a link to its task; add, search, edit, delete a fact");
  await page.getByRole("tab", { name: "Memory" }).click();
  const memories = page.getByTestId("memory-list");
  const reportMemory = memories.getByTestId("memory").filter({ hasText: "Daily warehouse report of" });
  await reportMemory.waitFor();
  assert.match(await reportMemory.innerText(), /late rate|no orders were due|late orders not available/);
  assert.match(await reportMemory.innerText(), /Remembered from the report of \d{4}-\d{2}-\d{2}/);
  await page.getByLabel("Fact").fill("Dock 4 is closed for repairs until Friday.");
  await page.getByRole("button", { name: "Remember" }).click();
  const dock = memories.getByTestId("memory").filter({ hasText: "Dock 4 is closed" });
  await dock.waitFor();
  assert.match(await dock.innerText(), /Noted by a person on/);
  await page.getByLabel("Search (with the organization's)").fill("which dock is out of service?");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByRole("heading", { name: /Recalled for/ }).waitFor();
  await memories.getByTestId("memory").first().filter({ hasText: "Dock 4 is closed" }).waitFor();
  await screenshot(page, "agent-memory-search");
  await page.getByRole("button", { name: "Clear" }).click();
  // By its id: while it is edited its text is in a field, not in the item's text.
  const dockItem = memories.locator(`[data-memory-id="${await dock.getAttribute("data-memory-id")}"]`);
  await dockItem.getByRole("button", { name: "Edit" }).click();
  await dockItem.getByLabel("Text").fill("Dock 4 is open again.");
  await dockItem.getByRole("button", { name: "Save" }).click();
  const reopened = memories.getByTestId("memory").filter({ hasText: "Dock 4 is open again." });
  await reopened.waitFor();
  await screenshot(page, "agent-memory");
  page.once("dialog", (dialog) => dialog.accept());
  await reopened.getByRole("button", { name: "Delete" }).click();
  await reopened.waitFor({ state: "detached" });
  // The source link opens the task that wrote the memory, with its report.
  await reportMemory.getByRole("link", { name: /^task / }).click();
  await page.waitForURL(/tab=tasks&task=/);
  await page.getByTestId("task-report").waitFor();

  step("organization memory: a fact every agent recalls");
  await page.goto(`/orgs/${orgId}/memory`);
  await page.getByText("Nothing remembered yet").waitFor();
  await page.getByLabel("Fact").fill("Goods-in closes at 16:00 on Saturdays.");
  await page.getByRole("button", { name: "Remember" }).click();
  await page.getByTestId("memory").filter({ hasText: "Goods-in closes" }).waitFor();
  await screenshot(page, "org-memory");
  await page.goto(`/agents/${agentId}`);

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

  step("give a task in words, reject its call in place with a reason");
  await give.getByLabel("Task").fill(process.env.REJECT_INSTRUCTION);
  await give.getByRole("button", { name: "Give the task" }).click();
  const rejectBox = view.getByTestId("approval-box");
  await rejectBox.waitFor({ timeout: 60_000 });
  assert.match(await rejectBox.innerText(), /Dock 2 is the slowest/);
  await rejectBox.getByLabel("Reason (told to the agent when you reject)").fill(process.env.REJECT_REASON);
  await rejectBox.getByRole("button", { name: "Reject" }).click();
  await view.getByTestId("task-events").getByText(`remember rejected: ${process.env.REJECT_REASON}`).waitFor();
  await view
    .getByTestId("task-answer")
    .getByText(process.env.REJECT_ANSWER.slice(0, 30), { exact: false })
    .waitFor({ timeout: 60_000 });
  await screenshot(page, "agent-task-rejected");

  step("cancel an agent task waiting for the report it started; the report says why it stopped");
  await give.getByLabel("Task").fill(process.env.CANCEL_INSTRUCTION);
  await give.getByRole("button", { name: "Give the task" }).click();
  await view.getByTestId("task-events").getByText("asks for run_workflow").waitFor();
  await view.getByText("WAITING", { exact: true }).waitFor();
  await view.getByRole("button", { name: "Cancel task" }).click();
  await view.getByText("CANCELLED", { exact: true }).waitFor();
  // The report it started: once the history lists it beside the report cancelled above, the
  // newer of the two (the list is newest first).
  const stopped = page
    .getByTestId("task-history")
    .getByRole("row")
    .filter({ hasText: "DAILY_WAREHOUSE_REPORT" })
    .filter({ hasText: "CANCELLED" });
  await stopped.nth(1).waitFor();
  await stopped.first().getByRole("button", { name: "View" }).click();
  await view.getByText("DAILY_WAREHOUSE_REPORT").waitFor();
  await view
    .getByTestId("task-events")
    .getByText(/cancelled: cancelled with the agent task [0-9a-f-]+ that started it/)
    .waitFor();
  await screenshot(page, "agent-task-cancelled");

  step("audit log: the org's history as sentences, a local agent's refusals, a filter, an export");
  const refusalAt = new Date().toISOString();
  const refused = await fetch(`${ORCHESTRATOR}/local-agents/heartbeat`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({
      name: "warehouse-pc",
      tools: ["db"],
      refusals: [
        { tool: "db", reason: "query 'cleanup' refused: only SELECT statements are allowed", count: 2, first_at: refusalAt, last_at: refusalAt },
      ],
    }),
  });
  assert.equal(refused.status, 200, await refused.text());
  await page.goto(`/orgs/${orgId}/audit`);
  const audit = page.getByTestId("audit-events");
  await audit.getByText("local agent warehouse-pc refused 2× db: query 'cleanup' refused", { exact: false }).waitFor();
  const auditText = await audit.innerText();
  assert.match(auditText, /created agent /);
  assert.match(auditText, /created key phia_[0-9a-f]{8}… \(warehouse-pc\) on agent /);
  assert.match(auditText, /uploaded document /);
  assert.ok(!auditText.includes(secret), "the audit log never shows a key");
  assert.match(auditText, /rotated the signing secret of the delivery destination 127\.0\.0\.1 for DAILY_WAREHOUSE_REPORT/);
  assert.ok(!/whsec_/.test(auditText), "the audit log never shows a webhook secret");
  await screenshot(page, "org-audit");
  await page.getByLabel("What").selectOption("local_agent_key");
  await page.getByRole("button", { name: "Filter" }).click();
  await audit.getByText("created key").waitFor();
  assert.equal(await audit.locator("li").count(), 1);
  const [auditCsv] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  const csvText = await readFile(await auditCsv.path(), "utf8");
  assert.match(csvText.split("\n")[0], /^occurred_at,org_id,actor_type/);
  assert.equal(csvText.trim().split("\n").length, 2, "the export follows the filter");
  await screenshot(page, "org-audit-filtered");

  step("dashboard shows the org's counts");
  await page.goto("/dashboard");
  await page.getByRole("link", { name: `Acme Logistics ${RUN}` }).waitFor();
  await screenshot(page, "dashboard");

  step("organizations: rename one, then delete it");
  await page.getByLabel("Organization name").fill(`Scratch ${RUN}`);
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
  await page.getByLabel("Organization name").fill(`Scratch renamed ${RUN}`);
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("heading", { name: `Scratch renamed ${RUN}` }).waitFor();
  await page.getByRole("button", { name: "Delete organization…" }).click();
  await screenshot(page, "org-settings");
  const deleteButton = page.getByRole("button", { name: "Delete permanently" });
  assert.equal(await deleteButton.isDisabled(), true, "deleting waits for the typed name");
  await page.getByLabel("Type the organization's name to confirm").fill(`Scratch renamed ${RUN}`);
  await deleteButton.click();
  await page.waitForURL(/\/dashboard$/);
  await page.getByRole("link", { name: `Acme Logistics ${RUN}` }).waitFor();
  assert.equal(await page.getByText(`Scratch renamed ${RUN}`).count(), 0);

  step("an agent the account cannot see: a plain not-found, nothing to retry");
  await page.goto("/agents/00000000-0000-4000-8000-000000000000");
  await page.getByText("This does not exist, or your account cannot see it.").waitFor();
  assert.equal(await page.getByRole("button", { name: "Try again" }).count(), 0);
  await screenshot(page, "agent-not-found");

  step("a non-admin gets no admin page");
  await page.goto("/admin");
  await page.getByText("Not found").waitFor();

  step("log out, then log in with the form");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(WRONG_PASSWORD);
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
  // Its successful report (the journey also cancelled one waiting for a local agent).
  const adminTask = page
    .getByTestId("admin-tasks")
    .getByRole("row")
    .filter({ hasText: "DAILY_WAREHOUSE_REPORT" })
    .filter({ hasText: "SUCCESS" });
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
    "/orgs/[orgId]/memory": userState,
    "/orgs/[orgId]/audit": userState,
    "/orgs/[orgId]/agents": userState,
    "/orgs/[orgId]/agents/new": userState,
    "/agents/[agentId]": userState,
    // The tasks tab with a report open: the Markdown reader and sanitiser load there.
    "/agents/[agentId]?tab=tasks&task=[taskId]": userState,
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
    const path = route.replace("[orgId]", orgId).replace("[agentId]", agentId).replace("[taskId]", taskId);
    await coldPage.goto(path, { waitUntil: "networkidle" });
    await Promise.all(pending);
    assert.ok(bytes > 0, `no script measured for ${route}`);
    budget[route] = bytes;
    console.log(`  ${route}: ${(bytes / 1024).toFixed(1)} kB`);
    await cold.close();
  }
  await writeFile(join(SHOTS, "js-budget.json"), JSON.stringify(budget, null, 2));
  await writeFile(join(SHOTS, "secrets-seen.json"), JSON.stringify(secretsSeen));

  assert.deepEqual(failures, [], "the pages logged errors");
  console.log("journey passed");
} catch (error) {
  if (page && !page.isClosed()) await screenshot(page, "FAILED").catch(() => undefined);
  console.log(`failed at ${page?.url()}`);
  throw error;
} finally {
  await browser.close();
}
