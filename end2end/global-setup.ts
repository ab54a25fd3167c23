import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "./support/net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "..");

async function waitForHealth(url: string, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode} before answering`);
    try {
      const response = await fetch(`${url}/api/v2.0/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`berth did not answer at ${url}`);
}

/** Starts the built `berth` for the specs and returns its teardown. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const binary = process.env.BERTH_BIN ?? join(repoRoot, "target", "debug", "berth");
  const dataDir = mkdtempSync(join(tmpdir(), "berth-e2e-"));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminPassword = "E2e-Admin-Passw0rd";
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("BERTH_") && !key.startsWith("LEPTOS_")) env[key] = value;
  }
  const child = spawn(binary, ["serve"], {
    cwd: repoRoot,
    env: {
      ...env,
      BERTH_LISTEN: `127.0.0.1:${port}`,
      BERTH_DATA_DIR: dataDir,
      BERTH_ADMIN_PASSWORD: adminPassword,
      BERTH_SITE_ROOT: process.env.BERTH_SITE_ROOT ?? join(repoRoot, "target", "site"),
      BERTH_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitForHealth(baseUrl, child);
  process.env.BERTH_BASE_URL = baseUrl;
  process.env.BERTH_E2E_ADMIN_PASSWORD = adminPassword;
  return async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    // A server that does not stop within its grace is killed, not waited for.
    const killed = setTimeout(() => child.kill("SIGKILL"), 40_000);
    await exited;
    clearTimeout(killed);
    rmSync(dataDir, { recursive: true, force: true });
  };
}
