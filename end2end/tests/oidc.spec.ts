import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, test, type Page, type TestInfo } from "@playwright/test";

// Signing in through a real OpenID provider (npm `oidc-provider`, started
// here), set up by an administrator on the Configuration page (endpoint
// checked first): the login page's provider button, the provider's own
// login form, the CLI secret on the profile page, and `podman login` +
// `podman push` with that secret, which stops working once it is regenerated.

const base = () => process.env.BERTH_BASE_URL!;
const host = () => base().replace(/^https?:\/\//, "");
const adminAuth = () => basic("admin", process.env.BERTH_E2E_ADMIN_PASSWORD!);
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;

let provider: ChildProcess | undefined;
let issuer = "";
let work = "";

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

async function configure(settings: Record<string, unknown>) {
  const response = await fetch(`${base()}/api/v2.0/configurations`, {
    method: "PUT",
    headers: { authorization: adminAuth(), "content-type": "application/json" },
    body: JSON.stringify(settings),
  });
  expect(response.status, await response.text()).toBe(200);
}

/** podman with private vfs storage and credentials in this test's directory. */
function podman(args: string[]) {
  const storage = [`--root=${join(work, "storage")}`, `--runroot=${join(work, "run")}`, "--storage-driver=vfs"];
  const result = spawnSync("podman", [...storage, ...args], { encoding: "utf8" });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

function podmanLogin(username: string, secret: string) {
  return podman(["login", `--authfile=${join(work, "auth.json")}`, "--tls-verify=false", "-u", username, "-p", secret, host()]);
}

function podmanPush(target: string) {
  return podman([
    "push",
    `--authfile=${join(work, "auth.json")}`,
    "--tls-verify=false",
    "localhost/oidc-hello:v1",
    `docker://${host()}/${target}`,
  ]);
}

async function snapshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

test.beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "berth-e2e-oidc-"));
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  provider = spawn("node", [resolve(__dirname, "../support/oidc-provider.mjs")], {
    env: {
      ...process.env,
      OIDC_PORT: String(port),
      OIDC_CLIENT_ID: "berth",
      OIDC_CLIENT_SECRET: "e2e-client-secret",
      OIDC_REDIRECT_URIS: `${base()}/c/oidc/callback`,
      OIDC_GROUPS: JSON.stringify({ oscar: ["developers"] }),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((ok, fail) => {
    provider!.once("exit", (code) => fail(new Error(`the OIDC provider exited with ${code}`)));
    provider!.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("listening")) ok();
    });
  });
  // An image in podman's own storage, made from a one-file root filesystem.
  const rootfs = join(work, "rootfs");
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, "hello.txt"), `hello from oscar ${Date.now()}\n`);
  const tar = spawnSync("tar", ["-cf", join(work, "rootfs.tar"), "-C", rootfs, "."]);
  expect(tar.status).toBe(0);
  const imported = podman(["import", join(work, "rootfs.tar"), "localhost/oidc-hello:v1"]);
  expect(imported.ok, imported.output).toBe(true);
});

test.afterAll(async () => {
  await configure({ auth_mode: "db_auth" });
  if (provider && provider.exitCode === null) {
    const exited = new Promise((r) => provider!.once("exit", r));
    provider.kill("SIGTERM");
    await exited;
  }
  podman(["rmi", "--all", "--force"]);
  rmSync(work, { recursive: true, force: true });
});

test("an OIDC user signs in at the provider, pushes with the CLI secret, and the old secret fails once regenerated", async ({
  page,
}, testInfo) => {
  // An administrator sets the provider up on the Configuration page.
  await page.goto(`${base()}/login?next=%2Fadmin%2Fconfiguration`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(process.env.BERTH_E2E_ADMIN_PASSWORD!);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("login-mode")).toContainText("In force: Database accounts");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Sign in with").selectOption("oidc");
  const form = page.getByRole("form", { name: "OIDC settings" });
  await form.getByLabel("Provider name").fill("Test IdP");
  await form.getByLabel("Endpoint (issuer URL)").fill(issuer);
  await form.getByLabel("Client ID").fill("berth");
  await form.getByLabel("Client secret").fill("e2e-client-secret");
  await form.getByLabel("Scopes").fill("openid,profile,email,groups");
  await expect(form.getByLabel("Username claim")).toHaveValue("preferred_username");
  await expect(form.getByLabel("Groups claim")).toHaveValue("groups");
  await form.getByRole("button", { name: "Check endpoint" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: `${issuer} answered` })).toBeVisible();
  await snapshot(page, testInfo, "00-oidc-settings");
  await form.getByRole("button", { name: "Save and use OIDC" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Users sign in through the OIDC provider now." })).toBeVisible();
  await expect(page.getByTestId("login-mode")).toContainText("In force: OpenID Connect provider");
  // The secret is write-only: the form says it is set, never what it is.
  await expect(page.getByRole("form", { name: "OIDC settings" }).getByText("Set. Leave empty to keep it.")).toBeVisible();
  await expect(page.getByRole("form", { name: "OIDC settings" }).getByLabel("Client secret")).toHaveValue("");
  await page.context().clearCookies();

  // The login page offers the provider; its button leads to the provider's own login form.
  await page.goto(`${base()}/login`);
  await expect(page.getByRole("heading", { name: "Log in to Berth" })).toBeVisible();
  await snapshot(page, testInfo, "01-login-with-oidc");
  await page.getByRole("link", { name: "Log in with Test IdP" }).click();
  await expect(page).toHaveURL(new RegExp(`^${issuer}/interaction/`));
  await page.locator('input[name="login"]').fill("oscar");
  await page.locator('input[name="password"]').fill("only-the-provider-sees-this");
  await snapshot(page, testInfo, "02-provider-login");
  await page.locator('button[type="submit"]').click();

  // Back at Berth, signed in: the dashboard, then the profile from the user menu.
  await expect(page).toHaveURL(`${base()}/`);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Profile and CLI secret" }).click();
  await expect(page).toHaveURL(`${base()}/profile`);
  await expect(page.getByTestId("profile-username")).toHaveText("oscar");
  const secretBox = page.getByTestId("cli-secret");
  await expect(secretBox).toHaveAttribute("type", "password");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(secretBox).toHaveAttribute("type", "text");
  const secret = await secretBox.inputValue();
  expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
  await snapshot(page, testInfo, "03-profile-cli-secret");

  // The secret works where a password would: the REST API and podman.
  const created = await fetch(`${base()}/api/v2.0/projects`, {
    method: "POST",
    headers: { authorization: basic("oscar", secret), "content-type": "application/json" },
    body: JSON.stringify({ project_name: "oscar-apps", metadata: { public: "false" } }),
  });
  expect(created.status, await created.text()).toBe(201);
  const login = podmanLogin("oscar", secret);
  expect(login.ok, login.output).toBe(true);
  expect(login.output).toContain("Login Succeeded");
  const pushed = podmanPush("oscar-apps/hello:v1");
  expect(pushed.ok, pushed.output).toBe(true);
  const manifest = await fetch(`${base()}/v2/oscar-apps/hello/manifests/v1`, {
    headers: { authorization: basic("oscar", secret), accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  expect(manifest.status).toBe(200);

  // Regenerating (after a confirmation) replaces the secret at once.
  await page.getByRole("button", { name: "Regenerate" }).click();
  await page.getByRole("button", { name: "Yes, regenerate" }).click();
  await expect(page.getByRole("status")).toContainText("A new secret is in place");
  await expect(secretBox).not.toHaveValue(secret);
  const newSecret = await secretBox.inputValue();
  expect(newSecret).toMatch(/^[A-Za-z0-9]{32}$/);
  await snapshot(page, testInfo, "04-secret-regenerated");

  const stale = podmanLogin("oscar", secret);
  expect(stale.ok, stale.output).toBe(false);
  const stalePush = podmanPush("oscar-apps/hello:v2");
  expect(stalePush.ok, "the stored old secret no longer pushes").toBe(false);
  const fresh = podmanLogin("oscar", newSecret);
  expect(fresh.ok, fresh.output).toBe(true);
  const pushedAgain = podmanPush("oscar-apps/hello:v2");
  expect(pushedAgain.ok, pushedAgain.output).toBe(true);
});
