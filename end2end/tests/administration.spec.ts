import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { adminPassword, base, signIn, snapshot, waitForHydration } from "../support/portal";

// The Administration area's pages in a real browser: users (create, search,
// administrator flag, password reset, delete) and self-registration;
// groups; system robot accounts; quotas; the global audit log with its
// filters and CSV export; configuration (login modes with their forms, and
// the system settings with their bounds); and none of it for a user who
// administers nothing, whose server-function calls are refused too.

const auth = () => ({ Authorization: `Basic ${Buffer.from(`admin:${adminPassword()}`).toString("base64")}` });

test("an administrator creates, finds, promotes, resets and deletes a user", async ({ page }, testInfo) => {
  await signIn(page, "admin", adminPassword(), "/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(`${base()}/admin/users`);
  await expect(page.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
  await waitForHydration(page);

  // Passwords that differ are explained in the form; nothing is created.
  await page.getByRole("button", { name: "New user" }).click();
  const form = page.getByRole("region", { name: "New user" });
  await form.getByLabel("Username").fill("ivy");
  await form.getByLabel("Email").fill("ivy@example.com");
  await form.getByLabel("Full name").fill("Ivy Example");
  await form.getByLabel("Password", { exact: true }).fill("Ivy-password-1");
  await form.getByLabel("Confirm password").fill("Ivy-password-2");
  await form.getByRole("button", { name: "Create" }).click();
  await expect(form.getByRole("alert")).toContainText("confirm_password");
  await form.getByLabel("Confirm password").fill("Ivy-password-1");
  await form.getByRole("button", { name: "Create" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "User created." })).toBeVisible();

  // Found by part of the name; made an administrator.
  await page.getByLabel("Search users").fill("iv");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/admin\/users\?search=iv/);
  const row = page.getByTestId("user-row").filter({ hasText: "ivy" });
  await expect(page.getByTestId("user-row")).toHaveCount(1);
  await expect(row).toContainText("ivy@example.com");
  await row.getByRole("button", { name: "Make administrator" }).click();
  await expect(row.getByRole("button", { name: "Revoke administrator" })).toBeVisible();
  await expect(row.getByRole("cell", { name: "Yes" })).toBeVisible();
  await snapshot(page, testInfo, "01-users");

  // A new password, and the user signs in with it.
  await row.getByRole("button", { name: "Reset password" }).click();
  const reset = page.getByRole("form", { name: "Reset the password of ivy" });
  await reset.getByLabel("New password").fill("Ivy-reset-42");
  await reset.getByLabel("Confirm").fill("Ivy-reset-42");
  await reset.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Password of ivy reset" })).toBeVisible();
  const token = await fetch(`${base()}/service/token`, {
    headers: { authorization: `Basic ${Buffer.from("ivy:Ivy-reset-42").toString("base64")}` },
  });
  expect(token.status).toBe(200);

  // admin (and the person looking) cannot be deleted or demoted here.
  await page.goto(`${base()}/admin/users?search=admin`);
  const adminRow = page.getByTestId("user-row").filter({ hasText: "admin" }).first();
  await expect(adminRow.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await expect(adminRow.getByRole("button", { name: "Revoke administrator" })).toHaveCount(0);

  // Deleted after a confirmation.
  await page.goto(`${base()}/admin/users?search=ivy`);
  await waitForHydration(page);
  await page.getByTestId("user-row").filter({ hasText: "ivy" }).getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "User deleted." })).toBeVisible();
  await expect(page.getByTestId("empty-state")).toContainText("No username contains “ivy”");

  // Self-registration, on and off again.
  const toggle = page.getByLabel("Allow self-registration");
  await expect(toggle).not.toBeChecked();
  await toggle.check();
  await expect(page.getByTestId("toast").filter({ hasText: "Self-registration changed." })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Allow self-registration")).toBeChecked();
  await waitForHydration(page);
  await page.getByLabel("Allow self-registration").uncheck();
  await expect(page.getByTestId("toast").filter({ hasText: "Self-registration changed." }).first()).toBeVisible();
});

test("groups, system robots and quotas are administered", async ({ page, request }, testInfo) => {
  expect((await request.post(`${base()}/api/v2.0/projects`, { headers: auth(), data: { project_name: "quota-demo" } })).status()).toBe(201);
  await signIn(page, "admin", adminPassword(), "/admin/groups");
  await expect(page.getByTestId("empty-state")).toContainText("No groups yet");
  await waitForHydration(page);
  // Groups come with the login mode that has them: explained, not added.
  await page.getByLabel("DN or name").fill("cn=devs,ou=groups,dc=example,dc=com");
  await page.getByRole("button", { name: "Add group" }).click();
  await expect(page.getByRole("form", { name: "Add a group" }).getByRole("alert")).toContainText("LDAP login mode");

  // A system robot for every project: the secret once, then disabled and deleted.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Robot accounts" }).click();
  await expect(page).toHaveURL(`${base()}/admin/robots`);
  await waitForHydration(page);
  await expect(page.getByLabel("Expires after (days)")).toHaveValue("30");
  await page.getByLabel("Name", { exact: true }).fill("mirror");
  await page.getByLabel("Push artifacts").check();
  await page.getByRole("button", { name: "Create robot account" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Robot robot$mirror created." })).toBeVisible();
  const secret = (await page.getByTestId("robot-secret-value").textContent())!.trim();
  expect(secret.length).toBeGreaterThanOrEqual(32);
  const row = page.getByTestId("robot-row").filter({ hasText: "robot$mirror" });
  await expect(row).toContainText("All projects");
  await snapshot(page, testInfo, "02-system-robots");
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByTestId("robot-status")).toHaveText("Disabled");
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("robot-row")).toHaveCount(0);

  // A project's quota, typed with a unit, and lifted again.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Quotas" }).click();
  await waitForHydration(page);
  const quota = page.getByTestId("quota-row").filter({ hasText: "quota-demo" });
  await quota.getByRole("button", { name: "Edit" }).click();
  const edit = page.getByRole("form", { name: "Quota of quota-demo" });
  await edit.getByLabel("Quota amount").fill("-3");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit.getByRole("alert")).toContainText("more than zero");
  await edit.getByLabel("Quota amount").fill("2");
  await edit.getByLabel("Quota unit").selectOption("GiB");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Quota saved." })).toBeVisible();
  const stored = await request.get(`${base()}/api/v2.0/quotas?reference=project`, { headers: auth() });
  const demo = (await stored.json()).find((q: { ref: { name: string } }) => q.ref.name === "quota-demo");
  expect(demo.hard.storage).toBe(2 * 1024 ** 3);
  await snapshot(page, testInfo, "03-quotas");
});

test("the audit log is filtered and exported as CSV", async ({ page }, testInfo) => {
  await signIn(page, "admin", adminPassword(), "/admin/audit-log");
  await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Operation").selectOption("create");
  await page.getByLabel("Resource type").selectOption("project");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/operation=create/);
  const rows = page.getByTestId("log-row");
  await expect(rows.first()).toBeVisible();
  for (const text of await rows.allInnerTexts()) expect(text).toContain("create");
  await snapshot(page, testInfo, "04-audit-log");

  // The export holds what the filters select.
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const file = await (await download).path();
  const lines = readFileSync(file!, "utf8").trim().split("\r\n");
  expect(lines[0]).toBe("time,user,operation,resource_type,resource,outcome,client_address,detail");
  const total = Number((await page.getByTestId("total").textContent())!.match(/of (\d+)/)![1]);
  expect(lines.length).toBe(total + 1);
  for (const line of lines.slice(1)) expect(line).toContain(",create,project,");

  // A filter that cannot be read is explained.
  await page.goto(`${base()}/admin/audit-log?from=yesterday`);
  await expect(page.getByRole("alert")).toContainText("YYYY-MM-DDTHH:MM");
});

test("login modes show their settings, and system settings keep their bounds", async ({ page }, testInfo) => {
  await signIn(page, "admin", adminPassword(), "/admin/configuration");
  await expect(page.getByTestId("login-mode")).toContainText("In force: Database accounts");
  await waitForHydration(page);

  // LDAP: every setting, and "Test LDAP connection" says why a directory cannot be used.
  await page.getByLabel("Sign in with").selectOption("ldap");
  const ldap = page.getByRole("form", { name: "LDAP settings" });
  await ldap.getByLabel("LDAP URL").fill("ldap://127.0.0.1:9");
  await ldap.getByLabel("Base DN", { exact: true }).fill("ou=people,dc=example,dc=com");
  await expect(ldap.getByLabel("Search password")).toHaveAttribute("type", "password");
  await ldap.getByRole("button", { name: "Test LDAP connection" }).click();
  await expect(ldap.getByRole("alert")).toContainText("identity provider");
  await snapshot(page, testInfo, "05-ldap-settings");

  // OIDC: its own settings; the endpoint check explains an unreachable issuer.
  await page.getByLabel("Sign in with").selectOption("oidc");
  const oidc = page.getByRole("form", { name: "OIDC settings" });
  await oidc.getByLabel("Endpoint (issuer URL)").fill("http://127.0.0.1:9");
  await oidc.getByRole("button", { name: "Check endpoint" }).click();
  await expect(oidc.getByRole("alert")).toContainText("could not be reached");
  await page.getByLabel("Sign in with").selectOption("database");
  await expect(page.getByRole("button", { name: "In force" })).toBeDisabled();

  // System settings: out of bounds explained; within them, kept.
  const system = page.getByRole("form", { name: "System settings" });
  await system.getByLabel("Session lifetime (minutes)").fill("4");
  await system.getByRole("button", { name: "Save" }).click();
  await expect(system.getByRole("alert")).toContainText("5 to 43200 minutes");
  await system.getByLabel("Session lifetime (minutes)").fill("480");
  await system.getByLabel("Robot account lifetime (days)").fill("45");
  await system.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "System settings saved." })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Session lifetime (minutes)")).toHaveValue("480");
  await expect(page.getByLabel("Robot account lifetime (days)")).toHaveValue("45");
  await expect(page.getByRole("heading", { name: "Audit log rotation" })).toBeVisible();
  await snapshot(page, testInfo, "06-system-settings");
  await waitForHydration(page);
  await page.getByLabel("Robot account lifetime (days)").fill("30");
  await page.getByRole("form", { name: "System settings" }).getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "System settings saved." })).toBeVisible();
});

test("users who administer nothing see no Administration pages and their calls are refused", async ({ page, request }) => {
  const created = await request.post(`${base()}/api/v2.0/users`, {
    headers: auth(),
    data: { username: "plain", password: "Plain-password-1", email: "plain@example.com", realname: "Plain" },
  });
  expect(created.status()).toBe(201);
  await signIn(page, "plain", "Plain-password-1", "/admin/users");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const link of ["Users", "Groups", "Robot accounts", "Quotas", "Audit log", "Configuration"]) {
    await expect(nav.getByRole("link", { name: link })).toHaveCount(0);
  }
  for (const path of ["/admin/users", "/admin/groups", "/admin/robots", "/admin/quotas", "/admin/audit-log", "/admin/configuration"]) {
    await page.goto(`${base()}${path}`);
    await expect(page.getByRole("alert").first()).toContainText(/system administrators/i);
  }
  // The functions behind the pages refuse the session too.
  const calls: [string, Record<string, string>][] = [
    ["admin_create_user", { username: "sneaky", password: "Sneaky-pass-1", confirm_password: "Sneaky-pass-1", is_admin: "on" }],
    ["admin_set_self_registration", { allowed: "true" }],
    ["save_system_settings", { session_lifetime_minutes: "60", robot_token_duration_days: "30", project_creation_admin_only: "on" }],
    ["use_database_login", {}],
    ["create_system_robot", { name: "sneaky", all_projects: "on", pull: "on" }],
  ];
  for (const [name, form] of calls) {
    const response = await page.request.post(`${base()}/portal/fn/${name}`, {
      form,
      headers: { origin: base(), accept: "application/json" },
    });
    expect(response.status(), name).toBe(403);
  }
  const csv = await page.request.get(`${base()}/portal/audit-log.csv`);
  expect(csv.status()).toBe(403);
  const sneaky = await request.get(`${base()}/api/v2.0/users/search?username=sneaky`, { headers: auth() });
  expect(await sneaky.json()).toEqual([]);
});
