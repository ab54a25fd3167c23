import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";
import { makeImage, pushImage } from "../support/registry";

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

// A maintainer protects release tags on the Policy tab: the repository
// page marks them immutable and offers no way to remove them, deleting
// the artifact is refused with the rule named, and disabling the rule
// lets the delete through. A guest sees the rules but cannot change them.
test("tag immutability rules are managed on the Policy tab and obeyed in the portal", async ({ page, request }, testInfo) => {
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "vault" } })).status()).toBe(201);
  pushImage(makeImage("vault v1"), "vault/app:v1.0", "admin", adminPassword());
  pushImage(makeImage("vault dev"), "vault/app:dev", "admin", adminPassword());

  await signIn(page, "admin", adminPassword(), "/projects/vault/policy");
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Tag immutability" })).toBeVisible();
  await expect(page.getByText("No immutability rules")).toBeVisible();

  // A bad glob is explained in place; a good rule is listed.
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.getByLabel("Tags", { exact: true }).fill("v{1");
  await page.getByRole("button", { name: "Save rule" }).click();
  await expect(page.getByRole("alert")).toContainText("tags");
  await page.getByLabel("Tags", { exact: true }).fill("v*");
  await page.getByRole("button", { name: "Save rule" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Rule saved." })).toBeVisible();
  const rules = page.getByTestId("immutable-rule");
  await expect(rules).toHaveCount(1);
  await expect(rules.first()).toContainText("matching **");
  await expect(rules.first()).toContainText("matching v*");
  await expect(rules.first().getByTestId("rule-status")).toHaveText("Enabled");
  await snapshot(page, testInfo, "01-rule");

  // The repository page marks v1.0 immutable, with no remove button.
  await page.goto(`${base()}/projects/vault/repositories/app`);
  await waitForHydration(page);
  const rows = page.getByTestId("artifact-row");
  const released = rows.filter({ has: page.getByTestId("tag").filter({ hasText: "v1.0" }) });
  await expect(released.getByTestId("immutable-tag")).toBeVisible();
  await expect(released.getByRole("button", { name: "Remove tag v1.0" })).toHaveCount(0);
  const dev = rows.filter({ has: page.getByTestId("tag").filter({ hasText: "dev" }) });
  await expect(dev.getByTestId("immutable-tag")).toHaveCount(0);
  await snapshot(page, testInfo, "02-immutable-tag");

  // Deleting the artifact is refused, naming the rule; it stays.
  await released.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "is immutable" })).toContainText("tags matching v*");
  await expect(rows).toHaveCount(2);
  const kept = await request.head(`${base()}/v2/vault/app/manifests/v1.0`, {
    headers: { ...auth(), Accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  expect(kept.status()).toBe(200);
  await snapshot(page, testInfo, "03-delete-refused");

  // Disabled, the rule protects nothing: the delete goes through.
  await page.goto(`${base()}/projects/vault/policy`);
  await waitForHydration(page);
  await rules.first().getByRole("button", { name: "Disable" }).click();
  await expect(rules.first().getByTestId("rule-status")).toHaveText("Disabled");
  await page.goto(`${base()}/projects/vault/repositories/app`);
  await waitForHydration(page);
  await released.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(rows).toHaveCount(1);

  // Edited to exclude dev, then deleted.
  await page.goto(`${base()}/projects/vault/policy`);
  await waitForHydration(page);
  await rules.first().getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("Tags that").selectOption("excludes");
  await page.getByLabel("Tags", { exact: true }).fill("dev");
  await page.getByRole("button", { name: "Save rule" }).click();
  await expect(rules.first()).toContainText("excluding dev");
  await rules.first().getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByText("No immutability rules")).toBeVisible();
});

test("a guest reads the rules but has no buttons, and a forged change is refused", async ({ page, request }) => {
  await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "vault2" } });
  const rule = {
    tag_selectors: [{ kind: "doublestar", decoration: "matches", pattern: "release-*" }],
    scope_selectors: { repository: [{ kind: "doublestar", decoration: "repoMatches", pattern: "**" }] },
  };
  const made = await request.post(`${base()}/api/v2.0/projects/vault2/immutabletagrules`, { headers: auth(), data: rule });
  expect(made.status()).toBe(201);
  const id = made.headers()["location"].split("/").pop()!;
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth(),
    data: { username: "reader1", password: "Reader-password-1", email: "reader1@example.com", realname: "Reader" },
  });
  expect(created.status()).toBe(201);
  const member = await request.post(`${base()}/api/v2.0/projects/vault2/members`, {
    headers: auth(),
    data: { role_id: 3, member_user: { username: "reader1" } },
  });
  expect(member.status()).toBe(201);

  await signIn(page, "reader1", "Reader-password-1", "/projects/vault2/policy");
  await waitForHydration(page);
  await expect(page.getByTestId("immutable-rule")).toContainText("matching release-*");
  await expect(page.getByRole("button", { name: "Add rule" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Disable" })).toHaveCount(0);
  const forged = await page.request.post(`${base()}/portal/fn/delete_immutable_rule`, {
    form: { project: "vault2", id },
  });
  expect(forged.status()).toBe(403);
});
