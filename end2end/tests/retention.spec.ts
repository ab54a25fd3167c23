import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, pushImage } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// A maintainer keeps only the newest artifact of a project: a rule on the
// Policy tab, a dry run that lists what would go (per repository, with a
// log), the real run that deletes exactly that, and a schedule.
test("tag retention is set up, dry-run and run from the Policy tab", async ({ page }, testInfo) => {
  const made = await page.request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "tidy" } });
  expect(made.status()).toBe(201);
  for (const tag of ["v1", "v2", "v3"]) {
    pushImage(makeImage(`tidy ${tag}`), `tidy/app:${tag}`, "admin", adminPassword());
  }

  await signIn(page, "admin", adminPassword(), "/projects/tidy/policy");
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Tag retention" })).toBeVisible();
  await expect(page.getByText("No retention rules")).toBeVisible();

  // A count out of bounds is explained; then the rule is saved.
  await page.getByRole("button", { name: "Add retention rule" }).click();
  await page.getByLabel("Retain").selectOption("latestPushedK");
  await page.getByLabel("Count or days (#)").fill("100001");
  await page.getByRole("button", { name: "Save retention rule" }).click();
  await expect(page.getByRole("alert")).toContainText("latestPushedK must be from 1 to 100000");
  await page.getByLabel("Count or days (#)").fill("1");
  await page.getByRole("button", { name: "Save retention rule" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Rule saved." })).toBeVisible();
  const rules = page.getByTestId("retention-rule");
  await expect(rules).toHaveCount(1);
  await expect(rules.first()).toContainText("retain the most recently pushed 1 artifacts");

  // The dry run: two would go, nothing is deleted.
  await page.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Retention run queued." })).toBeVisible();
  const run = page.getByTestId("retention-run").first();
  await expect(async () => {
    await page.reload();
    await expect(run.getByTestId("retention-run-status")).toHaveText("Succeeded", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await waitForHydration(page);
  await expect(run).toContainText("dry run");
  await expect(run.getByTestId("retention-run-outcome")).toHaveText("3 artifacts: 1 retained, would delete 2");
  await run.getByRole("button", { name: "Repositories" }).click();
  const task = page.getByTestId("retention-task").first();
  await expect(task).toContainText("tidy/app: 3 artifacts, 1 retained, would delete 2");
  await task.getByRole("button", { name: "Log" }).click();
  await expect(page.getByTestId("retention-log")).toContainText("would delete sha256:");
  await snapshot(page, testInfo, "01-dry-run");
  const stillThere = await page.request.get(`${base()}/api/v2.0/projects/tidy/repositories/app/artifacts`, { headers: auth() });
  expect((await stillThere.json()).length).toBe(3);

  // The real run deletes the two.
  await page.getByRole("button", { name: "Run now" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Run now" }).click();
  await expect(async () => {
    await page.reload();
    const latest = page.getByTestId("retention-run").first();
    await expect(latest).toContainText("manual", { timeout: 1000 });
    await expect(latest.getByTestId("retention-run-status")).toHaveText("Succeeded", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId("retention-run").first().getByTestId("retention-run-outcome")).toHaveText(
    "3 artifacts: 1 retained, deleted 2",
  );
  const left = await page.request.get(`${base()}/api/v2.0/projects/tidy/repositories/app/artifacts`, { headers: auth() });
  const artifacts = await left.json();
  expect(artifacts.length).toBe(1);
  expect(artifacts[0].tags.map((t: { name: string }) => t.name)).toEqual(["v3"]);

  // A schedule.
  await waitForHydration(page);
  await page.getByLabel(/Schedule \(cron/).fill("0 0 3 * * *");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByTestId("retention-schedule")).toHaveText("Runs on the schedule 0 0 3 * * * (UTC).");
  await snapshot(page, testInfo, "02-run");
});
