import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, pushImage } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// The Administration area's Clean up page: garbage collection scheduled,
// dry-run and run over a deleted repository's content, the bytes it freed
// and its log; audit-log rotation scheduled (a bad cron explained first)
// and a dry run followed live to its end; and the whole area out of reach
// of users who administer nothing.
test("an administrator schedules garbage collection and frees a deleted repository's bytes", async ({ page, request }, testInfo) => {
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "scrap" } })).status()).toBe(201);
  pushImage(makeImage("scrap ".repeat(4096)), "scrap/app:v1", "admin", adminPassword());
  expect((await request.delete(`${base()}/api/v2.0/projects/scrap/repositories/app`, { headers: auth() })).status()).toBe(200);

  await signIn(page, "admin", adminPassword(), "/admin/cleanup");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Clean up" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Clean up", exact: true })).toBeVisible();
  const gc = page.getByRole("region", { name: "Garbage collection" });
  await waitForHydration(page);

  // Workers are bounded: the form says so and keeps nothing.
  await gc.getByLabel("Workers").fill("11");
  await gc.getByRole("button", { name: "Dry run" }).click();
  await expect(gc.getByRole("alert").first()).toContainText("from 1 to 10");

  // Weekly with three workers, untagged artifacts included.
  await gc.getByLabel("Schedule", { exact: true }).selectOption("weekly");
  await gc.getByLabel("Workers").fill("3");
  await gc.getByLabel("Delete untagged artifacts").check();
  await gc.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Schedule saved." })).toBeVisible();
  await expect(gc.getByTestId("next-run")).toContainText("Next run");
  await page.reload();
  await expect(gc.getByLabel("Schedule", { exact: true })).toHaveValue("weekly");
  await expect(gc.getByLabel("Workers")).toHaveValue("3");
  await expect(gc.getByLabel("Delete untagged artifacts")).toBeChecked();

  // A dry run says what would go and deletes nothing; the run then frees it.
  await waitForHydration(page);
  await gc.getByRole("button", { name: "Dry run" }).click();
  const latest = gc.getByTestId("run-row").first();
  await expect(latest.getByTestId("run-status")).toHaveText("Success", { timeout: 30_000 });
  await expect(latest.getByTestId("run-result")).toHaveText(/^[1-9][\d.]* (B|KiB|MiB) would be freed: [1-9]\d* blobs, 0 manifests \(dry run\)$/);
  const wouldFree = (await latest.getByTestId("run-result").textContent())!.split(" would")[0];

  await gc.getByRole("button", { name: "Run now" }).click();
  await expect(gc.getByTestId("run-row")).toHaveCount(2);
  await expect(latest.getByTestId("run-status")).toHaveText("Success", { timeout: 30_000 });
  await expect(latest.getByTestId("run-result")).toHaveText(new RegExp(`^${wouldFree.replace(".", "\\.")} freed: [1-9]\\d* blobs, 0 manifests$`));
  await latest.getByRole("button", { name: "Log" }).click();
  await expect(latest.getByTestId("run-log")).toContainText("deleted");
  await expect(latest.getByTestId("run-log")).toContainText("3 worker(s)");
  await snapshot(page, testInfo, "01-cleanup-gc");

  // Nothing is left to free.
  await gc.getByRole("button", { name: "Dry run" }).click();
  await expect(gc.getByTestId("run-row")).toHaveCount(3);
  await expect(latest.getByTestId("run-status")).toHaveText("Success", { timeout: 30_000 });
  await expect(latest.getByTestId("run-result")).toHaveText("0 B would be freed: 0 blobs, 0 manifests (dry run)");
});

test("an administrator schedules audit log rotation and follows a dry run", async ({ page }, testInfo) => {
  await signIn(page, "admin", adminPassword(), "/admin/cleanup");
  const rotation = page.getByRole("region", { name: "Audit log rotation" });
  await expect(rotation).toBeVisible();
  await waitForHydration(page);

  // A custom schedule needs six fields: the form says so and keeps nothing.
  await rotation.getByLabel("Schedule", { exact: true }).selectOption("custom");
  await rotation.getByLabel("Custom cron (UTC)").fill("0 0 * * *");
  await rotation.getByRole("button", { name: "Save schedule" }).click();
  await expect(rotation.getByRole("alert")).toContainText("six fields");
  await page.reload();
  await expect(rotation.getByLabel("Schedule", { exact: true })).toHaveValue("none");

  // Daily, keeping two days of entries.
  await waitForHydration(page);
  await rotation.getByLabel("Schedule", { exact: true }).selectOption("daily");
  await rotation.getByLabel("Keep entries for (hours)").fill("48");
  await rotation.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Schedule saved." })).toBeVisible();
  await page.reload();
  await expect(rotation.getByLabel("Schedule", { exact: true })).toHaveValue("daily");
  await expect(rotation.getByLabel("Keep entries for (hours)")).toHaveValue("48");
  await expect(rotation.getByTestId("next-run")).toContainText("Next run");

  // A dry run over everything: the page follows it to its end without a reload.
  await waitForHydration(page);
  await rotation.getByLabel("Keep entries for (hours)").fill("0");
  await rotation.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "started" })).toBeVisible();
  const run = rotation.getByTestId("run-row").first();
  await expect(run.getByTestId("run-status")).toHaveText("Success", { timeout: 20_000 });
  await expect(run.getByTestId("run-result")).toContainText("would go (dry run)");
  await run.getByRole("button", { name: "Log" }).click();
  await expect(run.getByTestId("run-log")).toContainText("would delete");
  await snapshot(page, testInfo, "02-cleanup-rotation-dry-run");
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
