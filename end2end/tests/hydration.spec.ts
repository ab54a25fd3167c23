import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, waitForHydration } from "../support/portal";
import { inspectImage, makeImage, pushImage } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// Every page, opened directly (server-rendered, then hydrated), hydrates
// without an error in the browser console: a mismatch between what the
// server rendered and what the browser expects stops the page working.
test("every page hydrates cleanly when opened directly", async ({ page, request }) => {
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "hydrate" } })).status()).toBe(201);
  pushImage(makeImage("hydrate me"), "hydrate/app:v1", "admin", adminPassword());
  const digest = inspectImage("hydrate/app:v1", "admin", adminPassword()).Digest;
  await signIn(page, "admin", adminPassword());
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  for (const path of [
    "/",
    "/projects",
    "/new-project",
    "/search?q=app",
    "/profile",
    "/api-reference",
    "/projects/hydrate",
    "/projects/hydrate/repositories",
    "/projects/hydrate/members",
    "/projects/hydrate/robots",
    "/projects/hydrate/logs",
    "/projects/hydrate/configuration",
    "/projects/hydrate/repositories/app",
    `/projects/hydrate/repositories/app/artifacts/${digest}`,
  ]) {
    await page.goto(`${base()}${path}`);
    await waitForHydration(page);
    // Hydration errors are reported as the page's script runs; give it a moment.
    await page.waitForLoadState("networkidle");
    expect(errors, path).toEqual([]);
  }
});
