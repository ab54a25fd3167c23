import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../support/net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, pushImage } from "../support/registry";

// The Administration area's replication pages against Debian's
// docker-registry on loopback: a registry added after "Test connection"
// (an unreachable one explained first), a push policy made in the form,
// "Replicate now" followed live on the execution page to its end with the
// task's log, the copy found at the peer; a registry in use refused
// deletion; and the pages out of reach of users who administer nothing.

/** docker-registry on a free loopback port with its storage in a temporary directory. */
async function startPeer(): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "berth-e2e-peer-"));
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${join(dir, "data")} }\n  delete: { enabled: true }\nhttp: { addr: 127.0.0.1:${port} }\n`,
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/v2/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("docker-registry did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("an administrator adds a registry, replicates to it and follows the execution", async ({ page, request }, testInfo) => {
  const peer = await startPeer();
  try {
    pushImage(makeImage("replicate me ".repeat(2048)), "library/mirrored:v1", "admin", adminPassword());

    await signIn(page, "admin", adminPassword(), "/admin/registries");
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "Registries" })).toBeVisible();
    await expect(page.getByRole("heading", { name: "Registries", exact: true })).toBeVisible();
    await expect(page.getByTestId("empty-state")).toContainText("No registries yet");
    await waitForHydration(page);

    // A registry that does not answer is explained and not saved.
    await page.getByRole("button", { name: "New registry" }).click();
    const form = page.getByRole("region", { name: "New registry" });
    await form.getByLabel("Name").fill("peer");
    await form.getByLabel("Type").selectOption("docker-registry");
    const closed = await freePort();
    await form.getByLabel("URL").fill(`http://127.0.0.1:${closed}`);
    await form.getByRole("button", { name: "Test connection" }).click();
    await expect(form.getByRole("alert")).toContainText("cannot connect");
    await form.getByRole("button", { name: "Save" }).click();
    await expect(form.getByRole("alert").first()).toContainText("cannot connect");

    // The real one answers, and is saved.
    await form.getByLabel("URL").fill(peer.url);
    await form.getByRole("button", { name: "Test connection" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "The registry answered." })).toBeVisible();
    await form.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Registry saved." })).toBeVisible();
    const row = page.getByTestId("registry-row").filter({ hasText: "peer" });
    await expect(row).toContainText("Healthy");
    await expect(row).toContainText(peer.url);
    await snapshot(page, testInfo, "01-registries");

    // A push policy, made in the form.
    await nav.getByRole("link", { name: "Replications" }).click();
    await expect(page.getByRole("heading", { name: "Replications", exact: true })).toBeVisible();
    await waitForHydration(page);
    await page.getByRole("button", { name: "New policy" }).click();
    const policyForm = page.getByRole("region", { name: "New policy" });
    await policyForm.getByLabel("Name", { exact: true }).fill("to-peer");
    await policyForm.getByLabel("Replication mode").selectOption("push");
    await policyForm.getByLabel("Destination registry").selectOption({ label: "peer" });
    await policyForm.getByLabel("Source repositories").fill("library/mirrored");
    await policyForm.getByLabel("Destination namespace").fill("mirror");
    // A bad glob is explained and nothing is saved.
    await policyForm.getByLabel("Tags", { exact: true }).fill("v{1");
    await policyForm.getByRole("button", { name: "Save" }).click();
    await expect(policyForm.getByRole("alert")).toContainText("is not a glob");
    await policyForm.getByLabel("Tags", { exact: true }).fill("v*");
    await policyForm.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Policy saved." })).toBeVisible();
    const policy = page.getByTestId("policy-row").filter({ hasText: "to-peer" });
    await expect(policy).toContainText("Push to peer");
    await expect(policy).toContainText("name library/mirrored, tags v*");
    await expect(policy.getByTestId("policy-status")).toHaveText("Enabled");

    // Replicate now, and follow the execution on its page to its end.
    await policy.getByRole("button", { name: "Replicate now" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: /Execution \d+ started\./ })).toBeVisible();
    await page.getByTestId("execution-row").first().getByRole("link").click();
    await expect(page).toHaveURL(/\/admin\/replications\/executions\/\d+$/);
    await expect(page.getByTestId("execution-status")).toHaveText("Succeeded", { timeout: 30_000 });
    await expect(page.getByTestId("tasks-succeeded")).toHaveText("1");
    await expect(page.getByTestId("tasks-failed")).toHaveText("0");
    const task = page.getByTestId("task-row").first();
    await expect(task).toContainText("library/mirrored:v1");
    await expect(task).toContainText("mirror/mirrored:v1");
    await expect(task.getByTestId("task-status")).toHaveText("Succeeded");
    await waitForHydration(page);
    await task.getByRole("button", { name: "Log" }).click();
    await expect(task.getByTestId("task-log")).toContainText("tagged v1");
    await snapshot(page, testInfo, "02-replication-execution");
    const tags = await request.get(`${peer.url}/v2/mirror/mirrored/tags/list`);
    expect(await tags.json()).toEqual({ name: "mirror/mirrored", tags: ["v1"] });

    // Disabled, it cannot be started; the registry it uses cannot go.
    await page.goto(`${base()}/admin/replications`);
    await waitForHydration(page);
    await policy.getByRole("button", { name: "Disable" }).click();
    await expect(policy.getByTestId("policy-status")).toHaveText("Disabled");
    await expect(policy.getByRole("button", { name: "Replicate now" })).toBeDisabled();

    // Edited, the form shows the policy as saved (every select included), and a schedule sticks.
    await policy.getByRole("button", { name: "Edit" }).click();
    const editForm = page.getByRole("region", { name: "Edit policy" });
    await expect(editForm.getByLabel("Replication mode")).toHaveValue("push");
    await expect(editForm.getByLabel("Tags", { exact: true })).toHaveValue("v*");
    await expect(editForm.getByLabel("Enabled")).not.toBeChecked();
    await editForm.getByLabel("Trigger", { exact: true }).selectOption("scheduled");
    await editForm.getByLabel("Cron (UTC)").fill("0 0 3 * * *");
    await editForm.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Policy saved." }).last()).toBeVisible();
    await expect(policy).toContainText("Scheduled (0 0 3 * * *)");
    await page.reload();
    await waitForHydration(page);
    await policy.getByRole("button", { name: "Edit" }).click();
    await expect(editForm.getByLabel("Trigger", { exact: true })).toHaveValue("scheduled");
    await expect(editForm.getByLabel("Cron (UTC)")).toHaveValue("0 0 3 * * *");
    await expect(editForm.getByLabel("Replication mode")).toHaveValue("push");
    await editForm.getByRole("button", { name: "Cancel" }).click();
    await page.goto(`${base()}/admin/registries`);
    await waitForHydration(page);
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "is used by a replication policy" })).toBeVisible();
    await expect(row).toHaveCount(1);
  } finally {
    peer.stop();
  }
});

test("users who administer nothing do not see the replication pages and are refused", async ({ page, request }) => {
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` };
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth,
    data: { username: "copier", password: "Copier-password-1", email: "copier@example.com", realname: "Copier" },
  });
  expect(created.status()).toBe(201);
  await signIn(page, "copier", "Copier-password-1", "/admin/replications");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Replications" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Registries" })).toHaveCount(0);
  await expect(page.getByRole("alert").first()).toContainText(/system administrators/i);
  await expect(page.getByTestId("policy-row")).toHaveCount(0);
  await page.goto(`${base()}/admin/registries`);
  await expect(page.getByRole("alert").first()).toContainText(/system administrators/i);
});
