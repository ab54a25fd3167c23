import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";

// The Administration area's Clean up page: audit-log rotation scheduled
// (a bad cron explained first), a dry run followed live to its end with
// its log, and the whole area out of reach of users who administer nothing.
test("an administrator schedules audit log rotation and follows a dry run", async ({ page }, testInfo) => {
  await signIn(page, "admin", adminPassword(), "/admin/cleanup");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Clean up" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Clean up" })).toBeVisible();
  await waitForHydration(page);

  // A custom schedule needs six fields: the form says so and keeps nothing.
  await page.getByLabel("Schedule", { exact: true }).selectOption("custom");
  await page.getByLabel("Custom cron (UTC)").fill("0 0 * * *");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByRole("alert")).toContainText("six fields");
  await page.reload();
  await expect(page.getByLabel("Schedule", { exact: true })).toHaveValue("none");

  // Daily, keeping two days of entries.
  await waitForHydration(page);
  await page.getByLabel("Schedule", { exact: true }).selectOption("daily");
  await page.getByLabel("Keep entries for (hours)").fill("48");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Schedule saved." })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Schedule", { exact: true })).toHaveValue("daily");
  await expect(page.getByLabel("Keep entries for (hours)")).toHaveValue("48");
  await expect(page.getByTestId("next-run")).toContainText("Next run");

  // A dry run over everything: the page follows it to its end without a reload.
  await waitForHydration(page);
  await page.getByLabel("Keep entries for (hours)").fill("0");
  await page.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "started" })).toBeVisible();
  const run = page.getByTestId("run-row").first();
  await expect(run.getByTestId("run-status")).toHaveText("Success", { timeout: 20_000 });
  await expect(run.getByTestId("run-entries")).toContainText("would go (dry run)");
  await run.getByRole("button", { name: "Log" }).click();
  await expect(run.getByTestId("run-log")).toContainText("would delete");
  await snapshot(page, testInfo, "01-cleanup-dry-run");
});

test("users who administer nothing see no Administration section and are refused", async ({ page, request }) => {
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` };
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth,
    data: { username: "tidy", password: "Tidy-password-1", email: "tidy@example.com", realname: "Tidy" },
  });
  expect(created.status()).toBe(201);
  await signIn(page, "tidy", "Tidy-password-1", "/admin/cleanup");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clean up" })).toHaveCount(0);
  await expect(page.getByRole("alert")).toContainText(/system administrators/i);
  await expect(page.getByRole("button", { name: "Dry run" })).toHaveCount(0);
});
