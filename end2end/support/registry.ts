// Real pushes for the portal specs: small OCI images made with umoci and
// pushed with skopeo, as users of Berth push them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base } from "./portal";

/** `host:port` of the Berth under test, as registry clients name it. */
export const registryHost = () => new URL(base()).host;

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * Makes a one-layer OCI image (a file holding `content`) for `arch` in a
 * fresh OCI layout and returns `oci:<dir>:<tag>` for skopeo.
 */
export function makeImage(content: string, arch = "amd64"): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-e2e-image-"));
  const layout = join(dir, "layout");
  run("umoci", ["init", "--layout", layout]);
  run("umoci", ["new", "--image", `${layout}:v1`]);
  run("umoci", ["config", "--image", `${layout}:v1`, "--architecture", arch, "--os", "linux", "--config.cmd", "/hello"]);
  const bundle = join(dir, "bundle");
  run("umoci", ["unpack", "--rootless", "--image", `${layout}:v1`, bundle]);
  writeFileSync(join(bundle, "rootfs", "hello"), content);
  run("umoci", ["repack", "--image", `${layout}:v1`, bundle]);
  return `oci:${layout}:v1`;
}

/** Pushes an image made by `makeImage` to `<project>/<repository>:<tag>` with skopeo. */
export function pushImage(source: string, target: string, username: string, password: string) {
  run("skopeo", [
    "copy",
    "--dest-tls-verify=false",
    "--dest-creds",
    `${username}:${password}`,
    source,
    `docker://${registryHost()}/${target}`,
  ]);
}
