import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { inspectImage, makeImage, pushImage, pushSucceeds } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// A project's robot accounts: created in the portal with a bad name first,
// its secret shown once and used by skopeo; refreshing the secret locks the
// old one out; disabling and deleting stop it.
test("robot accounts are created, used, refreshed, disabled and deleted", async ({ page, context, request }, testInfo) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "pipeline" } })).status()).toBe(201);

  await signIn(page, "admin", adminPassword(), "/projects/pipeline");
  await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Robot accounts" }).click();
  await expect(page).toHaveURL(`${base()}/projects/pipeline/robots`);
  await expect(page.getByTestId("empty-state")).toContainText("No robot accounts");
  await waitForHydration(page);

  // A bad name is explained; nothing is created.
  await page.getByLabel("Name", { exact: true }).fill("Build Bot");
  await page.getByRole("button", { name: "Create robot account" }).click();
  await expect(page.getByRole("alert")).toContainText("name");
  await expect(page.getByTestId("robot-row")).toHaveCount(0);

  // A good one: pull and push for 7 days; the secret is shown once.
  await page.getByLabel("Name", { exact: true }).fill("builder");
  await page.getByLabel("Description").fill("CI pushes");
  await page.getByLabel("Expires after (days)").fill("7");
  await page.getByLabel("Push artifacts").check();
  await page.getByRole("button", { name: "Create robot account" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Robot robot$pipeline+builder created." })).toBeVisible();
  const secret = (await page.getByTestId("robot-secret-value").textContent())!.trim();
  expect(secret.length).toBeGreaterThanOrEqual(32);
  await page.getByTestId("robot-secret").getByRole("button", { name: "Copy secret" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  const row = page.getByTestId("robot-row").filter({ hasText: "robot$pipeline+builder" });
  await expect(row).toContainText("Pull artifacts, Push artifacts");
  await expect(row.getByTestId("robot-status")).toHaveText("Active");
  await snapshot(page, testInfo, "01-robot-created");
  await page.getByTestId("robot-secret").getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("robot-secret")).toHaveCount(0);
  await page.reload();
  await expect(page.getByText(secret)).toHaveCount(0);

  // The secret works with a real client.
  pushImage(makeImage("built by the robot"), "pipeline/app:v1", "robot$pipeline+builder", secret);
  expect(inspectImage("pipeline/app:v1", "robot$pipeline+builder", secret).Architecture).toBe("amd64");

  // Refreshing the secret locks the old one out.
  await waitForHydration(page);
  await row.getByRole("button", { name: "Refresh secret" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Refresh" }).click();
  const fresh = (await page.getByTestId("robot-secret-value").textContent())!.trim();
  expect(fresh).not.toBe(secret);
  expect(pushSucceeds(makeImage("old secret"), "pipeline/app:v2", "robot$pipeline+builder", secret)).toBe(false);
  expect(pushSucceeds(makeImage("new secret"), "pipeline/app:v2", "robot$pipeline+builder", fresh)).toBe(true);

  // Disabled, it is refused; enabled, it works again.
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByTestId("robot-status")).toHaveText("Disabled");
  expect(pushSucceeds(makeImage("while disabled"), "pipeline/app:v3", "robot$pipeline+builder", fresh)).toBe(false);
  await snapshot(page, testInfo, "02-robot-disabled");
  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row.getByTestId("robot-status")).toHaveText("Active");

  // Deleted after confirming.
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Robot account deleted." })).toBeVisible();
  await expect(page.getByTestId("robot-row")).toHaveCount(0);
  expect(pushSucceeds(makeImage("after deletion"), "pipeline/app:v4", "robot$pipeline+builder", fresh)).toBe(false);
});

// A repository's description: written in markdown by a developer, shown
// rendered with raw HTML as text; the last pull time appears after a pull.
test("a repository is described in markdown and shows its last pull", async ({ page, request }, testInfo) => {
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "described" } })).status()).toBe(201);
  pushImage(makeImage("described"), "described/tool:v1", "admin", adminPassword());

  await signIn(page, "admin", adminPassword(), "/projects/described/repositories/tool");
  await expect(page.getByTestId("pulled-at")).toHaveText("Never pulled");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Edit description" }).click();
  await page
    .getByLabel("Description (markdown)")
    .fill("## Usage\n\nRun `tool --help`.\n\n<img src=x onerror=\"document.title='owned'\">\n\n[Docs](https://example.com/docs)");
  await page.getByRole("button", { name: "Save description" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Description saved." })).toBeVisible();
  const description = page.getByTestId("description");
  await expect(description.getByRole("heading", { name: "Usage" })).toBeVisible();
  await expect(description.locator("code")).toHaveText("tool --help");
  await expect(description.getByRole("link", { name: "Docs" })).toHaveAttribute("href", "https://example.com/docs");
  await expect(description.locator("img")).toHaveCount(0);
  await expect(description).toContainText("<img src=x");
  expect(await page.title()).not.toBe("owned");

  inspectImage("described/tool:v1", "admin", adminPassword());
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("pulled-at")).toHaveText(/^Pulled \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/, { timeout: 1000 });
  }).toPass();
  await snapshot(page, testInfo, "01-described-repository");
});
