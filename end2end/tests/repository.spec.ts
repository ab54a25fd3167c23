import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, makeMultiPlatformImage, pushImage, registryHost } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// The issue's main flow: create a project, push with skopeo, see the
// repository with tags, sizes and platforms, copy a pull command, add a
// tag, delete an artifact (gone from /v2 too); a guest sees no buttons to
// change anything and a forged call from them is refused.
test("a repository's artifacts are browsed and changed in the portal", async ({ page, context, request }, testInfo) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "shop" } })).status()).toBe(201);
  pushImage(makeImage("cart v1"), "shop/cart:v1", "admin", adminPassword());
  pushImage(makeImage("cart v2"), "shop/cart:v2", "admin", adminPassword());
  pushImage(makeMultiPlatformImage("cart multi", ["amd64", "arm64"]), "shop/cart:multi", "admin", adminPassword());

  await signIn(page, "admin", adminPassword(), "/projects/shop/repositories");
  await page.getByRole("link", { name: "shop/cart" }).click();
  await expect(page).toHaveURL(`${base()}/projects/shop/repositories/cart`);
  await expect(page.getByRole("heading", { name: "shop/cart" })).toBeVisible();
  const rows = page.getByTestId("artifact-row");
  await expect(rows).toHaveCount(3);
  const multi = rows.filter({ has: page.getByTestId("tag").filter({ hasText: "multi" }) });
  await expect(multi.getByTestId("artifact-kind")).toHaveText("Image index");
  await expect(multi.getByTestId("platforms")).toHaveText("linux/amd64, linux/arm64");
  const v1 = rows.filter({ has: page.getByTestId("tag").filter({ hasText: "v1" }) });
  await expect(v1.getByTestId("artifact-kind")).toHaveText("Image");
  await expect(v1.getByTestId("artifact-size")).toHaveText(/\d+(\.\d)? (B|KiB)/);
  await waitForHydration(page);
  await snapshot(page, testInfo, "01-repository");

  // Copying the pull command of a tag.
  await v1.getByTestId("tag").filter({ hasText: "v1" }).getByRole("button", { name: "Pull" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`podman pull ${registryHost()}/shop/cart:v1`);

  // Adding a tag: a bad one is explained, a good one appears and works on /v2.
  await v1.getByRole("button", { name: "Add tag" }).click();
  await v1.getByLabel("New tag").fill("stable");
  await v1.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Tag added." })).toBeVisible();
  await expect(v1.getByTestId("tag").filter({ hasText: "stable" })).toBeVisible();
  const stable = await request.head(`${base()}/v2/shop/cart/manifests/stable`, {
    headers: { ...auth(), Accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  expect(stable.status()).toBe(200);
  await snapshot(page, testInfo, "02-tag-added");

  // The artifact page: config, history, layers, pull commands; an index lists its images.
  await v1.locator("a[title^='sha256:']").click();
  await expect(page).toHaveURL(/\/projects\/shop\/repositories\/cart\/artifacts\/sha256:[0-9a-f]{64}$/);
  await expect(page.getByTestId("artifact-kind")).toHaveText("Image");
  await expect(page.getByTestId("artifact-tags")).toHaveText("stable, v1");
  await expect(page.getByTestId("config-platform")).toHaveText("linux/amd64");
  await expect(page.getByTestId("config-cmd")).toHaveText("/hello");
  await expect(page.getByTestId("layers").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByTestId("manifest")).toContainText('"schemaVersion": 2');
  await expect(page.getByText("No signatures, SBOMs or other artifacts refer to this one.")).toBeVisible();
  await snapshot(page, testInfo, "03-artifact");
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "shop/cart" }).click();
  await multi.locator("a[title^='sha256:']").click();
  await expect(page.getByTestId("artifact-kind")).toHaveText("Image index");
  const children = page.getByTestId("children").locator("tbody tr");
  await expect(children).toHaveCount(2);
  await expect(children.first()).toContainText("linux/amd64");
  await snapshot(page, testInfo, "04-index");
  await children.nth(1).getByRole("link").click();
  await expect(page.getByTestId("config-platform")).toHaveText("linux/arm64");
  await page.goto(`${base()}/projects/shop/repositories/cart`);
  await waitForHydration(page);

  // Filtering by tag.
  await page.getByLabel("Filter by tag").fill("stab");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/tag=stab/);
  await expect(rows).toHaveCount(1);
  await page.goto(`${base()}/projects/shop/repositories/cart`);
  await waitForHydration(page);

  // Deleting v2 after confirming: gone here and from /v2.
  const v2 = rows.filter({ has: page.getByTestId("tag").filter({ hasText: "v2" }) });
  await v2.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Delete artifact sha256:");
  await snapshot(page, testInfo, "05-confirm-delete-artifact");
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "deleted" })).toBeVisible();
  await expect(rows).toHaveCount(2);
  const gone = await request.get(`${base()}/v2/shop/cart/manifests/v2`, { headers: auth() });
  expect(gone.status()).toBe(404);

  // The dashboard counts it and lists the pushes, newest first.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByTestId("recent-pushes").locator("li").first()).toContainText("shop/cart");
  await expect(page.getByTestId("dashboard-projects")).not.toHaveText("0");
  await snapshot(page, testInfo, "06-dashboard");

  // The project's log shows the pushes and the deletion, newest first.
  await page.goto(`${base()}/projects/shop/logs?operation=delete`);
  await expect(page.getByTestId("log-row").first()).toContainText("delete");
  await expect(page.getByTestId("log-row").first()).toContainText("shop/cart@sha256:");
  await page.getByLabel("Operation").selectOption("push");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/operation=push/);
  await expect(page.getByTestId("log-row").filter({ hasText: "shop/cart:v1" })).toHaveCount(1);
  await snapshot(page, testInfo, "07-logs");
});

test("a guest sees no buttons that change a repository, and forged calls are refused", async ({ page, request }, testInfo) => {
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth(),
    data: { username: "guest1", password: "Guest-password-1", email: "guest1@example.com", realname: "Guest" },
  });
  expect(created.status()).toBe(201);
  await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "docs" } });
  const member = await request.post(`${base()}/api/v2.0/projects/docs/members`, {
    headers: auth(),
    data: { role_id: 3, member_user: { username: "guest1" } },
  });
  expect(member.status()).toBe(201);
  pushImage(makeImage("docs site"), "docs/site:v1", "admin", adminPassword());

  await signIn(page, "guest1", "Guest-password-1", "/projects/docs/repositories/site");
  await expect(page.getByTestId("artifact-row")).toHaveCount(1);
  await waitForHydration(page);
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Add tag" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /Remove tag/ })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Copy pull command" })).toBeVisible();
  await snapshot(page, testInfo, "01-guest-repository");

  // The page's own session calling the delete function directly is refused.
  const digest = await page.getByTestId("artifact-row").locator("a[title^='sha256:']").getAttribute("title");
  const forged = await page.evaluate(
    async ([digest]) => {
      const response = await fetch("/portal/fn/delete_artifact", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ repository: "docs/site", digest: digest! }).toString(),
      });
      return response.status;
    },
    [digest],
  );
  expect(forged).toBe(403);
  const still = await request.get(`${base()}/v2/docs/site/manifests/v1`, { headers: auth() });
  expect(still.status()).toBe(200);
});
