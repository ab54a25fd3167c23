import { expect, test, type Page, type TestInfo } from "@playwright/test";

const base = () => process.env.BERTH_BASE_URL!;
const adminPassword = () => process.env.BERTH_E2E_ADMIN_PASSWORD!;

async function waitForHydration(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

async function snapshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

test("admin logs in with a wrong then the right password, sees the dashboard and logs out", async ({ page }, testInfo) => {
  // Visitors are sent to the login page.
  await page.goto(`${base()}/`);
  await expect(page).toHaveURL(`${base()}/login`);
  await expect(page.getByRole("heading", { name: "Log in to Berth" })).toBeVisible();
  await waitForHydration(page);
  await snapshot(page, testInfo, "01-login");

  // A wrong password shows an error and keeps the visitor on the login page.
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Invalid username or password.");
  await expect(page).toHaveURL(`${base()}/login`);
  await snapshot(page, testInfo, "02-login-failed");

  // The right password opens the dashboard with what the server knows.
  await page.getByLabel("Password").fill(adminPassword());
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(`${base()}/`);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByTestId("overview-database")).toHaveText("SQLite");
  await expect(page.getByTestId("overview-storage")).toContainText("storage");
  await expect(page.getByTestId("overview-disk")).toContainText("free of");
  await expect(page.getByTestId("version")).not.toBeEmpty();
  await expect(page).toHaveTitle("Dashboard · Berth");
  await snapshot(page, testInfo, "03-dashboard");

  // A full reload renders the dashboard on the server and hydrates it; the
  // user menu only opens when the wasm runs.
  await page.reload();
  await waitForHydration(page);
  const menuButton = page.getByTestId("user-menu");
  await expect(menuButton).toContainText("admin");
  await expect(page.getByRole("menu")).toHaveCount(0);
  await menuButton.click();
  await expect(menuButton).toHaveAttribute("aria-expanded", "true");
  await expect(page.getByRole("menu")).toBeVisible();
  await snapshot(page, testInfo, "04-user-menu");

  // Logging out ends the session: the dashboard is out of reach again.
  await page.getByRole("menuitem", { name: "Log out" }).click();
  await expect(page).toHaveURL(`${base()}/login`);
  await page.goto(`${base()}/`);
  await expect(page).toHaveURL(`${base()}/login`);
  await snapshot(page, testInfo, "05-logged-out");
});
