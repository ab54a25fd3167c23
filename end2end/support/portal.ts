// Helpers the portal specs share: the server global-setup started, signing
// in through the login form, waiting for hydration, and kept screenshots.
import { expect, type Page, type TestInfo } from "@playwright/test";

export const base = () => process.env.BERTH_BASE_URL!;
export const adminPassword = () => process.env.BERTH_E2E_ADMIN_PASSWORD!;

export async function waitForHydration(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** A full-page screenshot, attached to the report and kept under test-results. */
export async function snapshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

/** Signs in through the login form and lands on `next` (the dashboard by default). */
export async function signIn(page: Page, username: string, password: string, next = "/") {
  await page.goto(`${base()}/login?next=${encodeURIComponent(next)}`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(`${base()}${next}`);
}
