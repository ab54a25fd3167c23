import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";

test("the API reference lists every operation of the served document and filters them", async ({ page, request }, testInfo) => {
  const document = await (await request.get(`${base()}/api/v2.0/openapi.json`)).json();
  const operationCount = Object.values(document.paths as Record<string, object>)
    .map((item) => Object.keys(item).length)
    .reduce((a, b) => a + b, 0);

  await signIn(page, "admin", adminPassword());
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API reference" }).click();
  await expect(page).toHaveURL(`${base()}/api-reference`);
  await expect(page.getByRole("heading", { name: "API reference" })).toBeVisible();
  await expect(page.getByTestId("api-operation")).toHaveCount(operationCount);
  await waitForHydration(page);
  await snapshot(page, testInfo, "01-api-reference");

  // An operation shows its parameters, body and answers; its body type links to the schema.
  const createRobot = page.locator("article#create_robot");
  await expect(createRobot).toContainText("/api/v2.0/robots");
  await expect(createRobot.getByRole("table", { name: "Responses" })).toContainText("201");
  await createRobot.getByRole("link", { name: "RobotCreate", exact: true }).click();
  await expect(page).toHaveURL(/#schema-RobotCreate$/);
  await expect(page.locator("#schema-RobotCreate").getByRole("table", { name: "Fields" })).toContainText("permissions");

  // The filter narrows the operations to those that match every word.
  await page.getByLabel("Filter operations").fill("robots delete");
  await expect(page.getByTestId("api-operation").filter({ visible: true })).toHaveCount(1);
  await expect(page.locator("article#delete_robot")).toBeVisible();
  await snapshot(page, testInfo, "02-api-reference-filtered");
  await page.getByLabel("Filter operations").fill("");
  await expect(page.getByTestId("api-operation").filter({ visible: true })).toHaveCount(operationCount);

  // The machine-readable document is one click away.
  await expect(page.getByTestId("openapi-download")).toHaveAttribute("href", "/api/v2.0/openapi.json");
});
