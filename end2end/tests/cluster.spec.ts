import { expect, test } from "@playwright/test";
import { type Cluster, startCluster } from "../support/cluster";
import { snapshot, waitForHydration } from "../support/portal";

// The portal through a load balancer in front of three nodes (one
// PostgreSQL database, one Garage bucket): every page load, asset and
// server function call lands on another node, and the session holds on
// all of them; what one node wrote, every node shows; signing out ends the
// session everywhere.
let cluster: Cluster;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  cluster = await startCluster(3);
});

test.afterAll(async () => {
  await cluster?.stop();
});

test("a portal session holds across three nodes behind a load balancer", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const base = cluster.base;
  await page.goto(`${base}/login`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(cluster.adminPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(`${base}/`);
  await expect(page.getByTestId("overview-database")).toHaveText("PostgreSQL");

  // A project created through the form (a server function on one node)…
  await page.goto(`${base}/new-project`);
  await waitForHydration(page);
  await page.getByLabel("Name").fill("across");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page).toHaveURL(`${base}/projects/across`);
  await expect(page.getByRole("heading", { name: "across" })).toBeVisible();
  await snapshot(page, testInfo, "01-project-through-the-load-balancer");

  // …and six more page loads through the load balancer, each hydrating
  // (round robin spreads the HTML, the wasm and the calls): still signed in.
  for (let n = 0; n < 6; n++) {
    await page.goto(`${base}/projects`);
    await waitForHydration(page);
    await expect(page.getByTestId("project-row").filter({ hasText: "across" })).toBeVisible();
    await expect(page.getByTestId("user-menu")).toContainText("admin");
  }

  // Each node on its own answers with the same session and the same data
  // (the cookie belongs to the host, whatever the port).
  for (const node of cluster.nodes) {
    await page.goto(`${node.base}/projects/across`);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "across" })).toBeVisible();
  }
  await snapshot(page, testInfo, "02-on-a-node-directly");

  // Signing out through the load balancer ends the session on every node.
  await page.goto(`${base}/`);
  await waitForHydration(page);
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Log out" }).click();
  await expect(page).toHaveURL(`${base}/login`);
  for (const node of cluster.nodes) {
    await page.goto(`${node.base}/projects`);
    await expect(page).toHaveURL(`${node.base}/login?next=%2Fprojects`);
  }
  await snapshot(page, testInfo, "03-signed-out-everywhere");
});
