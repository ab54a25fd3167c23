import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { freePort } from "../support/net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, test, type Page, type TestInfo } from "@playwright/test";

// Signing in through a real OpenID provider (npm `oidc-provider`, started
// here), set up by an administrator on the Configuration page (endpoint
// checked first): the login page's provider button, the provider's own
// login form, the CLI secret copied from the profile page, and `docker login`
// + `docker push` (Debian's daemon on a private socket) and `podman login` +
// `podman push` with that secret, which stops working once it is regenerated.

const base = () => process.env.BERTH_BASE_URL!;
const host = () => base().replace(/^https?:\/\//, "");
const adminAuth = () => basic("admin", process.env.BERTH_E2E_ADMIN_PASSWORD!);
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;

let provider: ChildProcess | undefined;
let dockerd: ChildProcess | undefined;
let issuer = "";
let work = "";

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

/** The docker CLI (Debian's) against this test's private daemon and client configuration. */
function docker(args: string[], input?: string) {
  const env = { ...process.env, DOCKER_HOST: `unix://${join(work, "docker.sock")}`, DOCKER_CONFIG: join(work, "docker-config") };
  const result = spawnSync("/usr/bin/docker", args, { encoding: "utf8", env, input });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Debian's dockerd on a private socket and data root (vfs, no bridge, no iptables); loopback registries are plain HTTP to it. */
async function startDockerd() {
  const path = (name: string) => join(work, name);
  dockerd = spawn(
    "dockerd",
    [
      "--data-root", path("docker-root"), "--exec-root", path("docker-exec"), "-H", `unix://${path("docker.sock")}`,
      "--pidfile", path("docker.pid"), "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
    ],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 60_000;
  while (!docker(["version", "--format", "{{.Server.Version}}"]).ok) {
    if (Date.now() > deadline) throw new Error("dockerd did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
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
  await startDockerd();
  const dockerImported = docker(["import", join(work, "rootfs.tar"), `${host()}/oscar-apps/hello:docker`]);
  expect(dockerImported.ok, dockerImported.output).toBe(true);
});

test.afterAll(async () => {
  await configure({ auth_mode: "db_auth" });
  if (provider && provider.exitCode === null) {
    const exited = new Promise((r) => provider!.once("exit", r));
    provider.kill("SIGTERM");
    await exited;
  }
  podman(["rmi", "--all", "--force"]);
  if (dockerd && dockerd.exitCode === null) {
    const exited = new Promise((r) => dockerd!.once("exit", r));
    dockerd.kill("SIGTERM");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

test("an OIDC user signs in at the provider, pushes with the CLI secret, and the old secret fails once regenerated", async ({
  page,
  context,
}, testInfo) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
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
  // Copied from the profile page, as a user would before `docker login`.
  await page.getByRole("button", { name: "Copy secret" }).click();
  const secret = await page.evaluate(() => navigator.clipboard.readText());
  expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
  expect(secret).toBe(await secretBox.inputValue());
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
  // The docker CLI, with the secret on stdin as a user would paste it.
  const dockerLogin = docker(["login", host(), "-u", "oscar", "--password-stdin"], secret);
  expect(dockerLogin.ok, dockerLogin.output).toBe(true);
  expect(dockerLogin.output).toContain("Login Succeeded");
  const dockerPush = docker(["push", `${host()}/oscar-apps/hello:docker`]);
  expect(dockerPush.ok, dockerPush.output).toBe(true);
  const pushedByDocker = await fetch(`${base()}/v2/oscar-apps/hello/manifests/docker`, {
    method: "HEAD",
    headers: { authorization: basic("oscar", secret), accept: "application/vnd.docker.distribution.manifest.v2+json" },
  });
  expect(pushedByDocker.status).toBe(200);

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
  expect(docker(["login", host(), "-u", "oscar", "--password-stdin"], secret).ok, "docker refuses it too").toBe(false);
  const stalePush = podmanPush("oscar-apps/hello:v2");
  expect(stalePush.ok, "the stored old secret no longer pushes").toBe(false);
  const fresh = podmanLogin("oscar", newSecret);
  expect(fresh.ok, fresh.output).toBe(true);
  const pushedAgain = podmanPush("oscar-apps/hello:v2");
  expect(pushedAgain.ok, pushedAgain.output).toBe(true);
});
