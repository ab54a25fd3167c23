import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, pushImage, registryHost } from "../support/registry";

// Projects in the portal: create (with a bad name first), find, push to,
// browse, configure and delete; and what a user who is no member sees.
test("an administrator creates, fills, configures and deletes projects", async ({ page, context, request }, testInfo) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, "admin", adminPassword());
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
  await expect(page).toHaveURL(`${base()}/projects`);
  await expect(page.getByTestId("project-row").filter({ hasText: "library" })).toBeVisible();
  await snapshot(page, testInfo, "01-projects");

  // A bad name is explained on the form; nothing is created.
  await page.getByRole("link", { name: "New project" }).click();
  await expect(page.getByRole("heading", { name: "New project" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Name").fill("web.apps");
  await page.getByLabel("Quota amount").fill("not much");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("alert")).toContainText("storage_quota");
  await snapshot(page, testInfo, "02-new-project-error");

  // A good one opens the project with a toast.
  await page.getByLabel("Quota amount").fill("2");
  await page.getByLabel("Quota unit").selectOption("GiB");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page).toHaveURL(`${base()}/projects/web.apps`);
  await expect(page.getByTestId("toast").filter({ hasText: "Project web.apps created." })).toBeVisible();
  await expect(page.getByRole("heading", { name: "web.apps" })).toBeVisible();
  await expect(page.getByTestId("summary-storage")).toContainText("of 2.0 GiB");

  // The push command is on the summary and copies to the clipboard.
  const push = `podman push ${registryHost()}/web.apps/REPOSITORY:TAG`;
  await expect(page.getByTestId("command").filter({ hasText: "push" })).toHaveText(push);
  await page.getByTestId("command").filter({ hasText: "push" }).locator("..").getByRole("button", { name: "Copy" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(push);
  await snapshot(page, testInfo, "03-project-summary");

  // Pushing with skopeo fills the repositories tab and the storage.
  pushImage(makeImage("hello from the frontend"), "web.apps/frontend:v1", "admin", adminPassword());
  pushImage(makeImage("hello from the backend"), "web.apps/api/backend:v1", "admin", adminPassword());
  await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Repositories" }).click();
  await expect(page.getByTestId("repository-row")).toHaveCount(2);
  await expect(page.getByTestId("repository-row").first()).toContainText("web.apps/api/backend");
  await page.getByLabel("Search repositories").fill("front");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/search=front/);
  await expect(page.getByTestId("repository-row")).toHaveCount(1);
  await snapshot(page, testInfo, "04-project-repositories");

  // The top bar's search finds the project and its repositories.
  await page.getByLabel("Search projects and repositories").fill("backend");
  await page.getByLabel("Search projects and repositories").press("Enter");
  await expect(page).toHaveURL(`${base()}/search?q=backend`);
  await expect(page.getByTestId("found-repositories")).toContainText("web.apps/api/backend");
  await snapshot(page, testInfo, "04b-search");

  // The project list shows it with its repositories and the quota bar.
  await page.goto(`${base()}/projects?search=web`);
  const row = page.getByTestId("project-row").filter({ hasText: "web.apps" });
  await expect(row).toContainText("Private");
  await expect(row.getByRole("meter", { name: "Storage used" })).toBeVisible();
  await expect(row.locator("td").nth(2)).toHaveText("2");

  // Configuration: made public; a project with repositories cannot be deleted.
  await page.goto(`${base()}/projects/web.apps/configuration`);
  await waitForHydration(page);
  await page.getByLabel("Public").check();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Configuration saved." })).toBeVisible();
  await expect(page.getByText("Public", { exact: true }).first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete project" })).toBeDisabled();
  await snapshot(page, testInfo, "05-project-configuration");

  // Members: a user is added as guest, made developer, then removed.
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` };
  const member = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth,
    data: { username: "member1", password: "Member1-password", email: "member1@example.com", realname: "Member One" },
  });
  expect(member.status()).toBe(201);
  await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Members" }).click();
  await waitForHydration(page);
  await page.getByLabel("Username or group").fill("nobody-here");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.getByRole("alert")).toContainText("user nobody-here does not exist");
  await page.getByLabel("Username or group").fill("member1");
  await page.getByLabel("Role", { exact: true }).selectOption("guest");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Member added." })).toBeVisible();
  const memberRow = page.getByTestId("member-row").filter({ hasText: "member1" });
  await expect(memberRow.getByLabel("Role of member1")).toHaveValue("guest");
  await memberRow.getByLabel("Role of member1").selectOption("developer");
  await expect(page.getByTestId("toast").filter({ hasText: "Role changed." })).toBeVisible();
  await snapshot(page, testInfo, "05b-members");
  await memberRow.getByRole("button", { name: "Remove" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Member removed." })).toBeVisible();
  await expect(page.getByTestId("member-row").filter({ hasText: "member1" })).toHaveCount(0);

  // An empty project is deleted after confirming.
  await page.goto(`${base()}/new-project`);
  await waitForHydration(page);
  await page.getByLabel("Name").fill("scratch");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page).toHaveURL(`${base()}/projects/scratch`);
  await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Configuration" }).click();
  await page.getByRole("button", { name: "Delete project" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete project scratch?" });
  await expect(dialog).toBeVisible();
  await snapshot(page, testInfo, "06-confirm-delete");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);
  await page.getByRole("button", { name: "Delete project" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(`${base()}/projects`);
  await expect(page.getByTestId("toast").filter({ hasText: "Project scratch deleted." })).toBeVisible();
  await expect(page.getByTestId("project-row").filter({ hasText: "scratch" })).toHaveCount(0);
});

test("a user who is no member sees public projects without their management tabs", async ({ page, request }, testInfo) => {
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` };
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth,
    data: { username: "viewer", password: "Viewer-password-1", email: "viewer@example.com", realname: "Viewer" },
  });
  expect(created.status()).toBe(201);
  await request.post(`${base()}/api/v2.0/projects`, { headers: auth, data: { project_name: "hidden" } });

  await signIn(page, "viewer", "Viewer-password-1", "/projects");
  await expect(page.getByTestId("project-row").filter({ hasText: "library" })).toHaveCount(1);
  await expect(page.getByTestId("project-row").filter({ hasText: "hidden" })).toHaveCount(0);
  await page.getByRole("link", { name: "library" }).click();
  const tabs = page.getByRole("navigation", { name: "Project" });
  await expect(tabs.getByRole("link", { name: "Summary" })).toBeVisible();
  await expect(tabs.getByRole("link", { name: "Configuration" })).toHaveCount(0);
  await expect(page.getByTestId("summary-members")).toHaveText("—");
  await snapshot(page, testInfo, "01-viewer-library");

  // Typing the address of the private project shows why not, not its data.
  await page.goto(`${base()}/projects/hidden`);
  await expect(page.getByRole("alert")).toContainText("You may not do this");
});
