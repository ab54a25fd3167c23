// Real pushes for the portal specs: small OCI images made with umoci and
// pushed with skopeo, as users of Berth push them.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

/** Scratch directories of the images made here, removed when the run ends. */
const scratch: string[] = [];
process.once("exit", () => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/**
 * Makes a one-layer OCI image (a file holding `content`) for `arch` in a
 * fresh OCI layout and returns `oci:<dir>:<tag>` for skopeo.
 */
export function makeImage(content: string, arch = "amd64"): string {
  const dir = scratchDir("berth-e2e-image-");
  const layout = join(dir, "layout");
  run("umoci", ["init", "--layout", layout]);
  addImage(layout, "v1", content, arch);
  return `oci:${layout}:v1`;
}

function addImage(layout: string, tag: string, content: string, arch: string) {
  run("umoci", ["new", "--image", `${layout}:${tag}`]);
  run("umoci", ["config", "--image", `${layout}:${tag}`, "--architecture", arch, "--os", "linux", "--config.cmd", "/hello"]);
  const bundle = scratchDir("berth-e2e-bundle-");
  run("umoci", ["unpack", "--rootless", "--image", `${layout}:${tag}`, join(bundle, "b")]);
  writeFileSync(join(bundle, "b", "rootfs", "hello"), content);
  run("umoci", ["repack", "--image", `${layout}:${tag}`, join(bundle, "b")]);
}

/**
 * Makes an image index of one image per architecture (as a multi-platform
 * build leaves it) and returns `oci:<dir>:v1` for `skopeo copy --all`.
 */
export function makeMultiPlatformImage(content: string, arches: string[]): string {
  const dir = scratchDir("berth-e2e-index-");
  const layout = join(dir, "layout");
  run("umoci", ["init", "--layout", layout]);
  for (const arch of arches) addImage(layout, arch, `${content} (${arch})`, arch);
  const indexPath = join(layout, "index.json");
  const top = JSON.parse(readFileSync(indexPath, "utf8"));
  const manifests = top.manifests.map((entry: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }) => ({
    mediaType: entry.mediaType,
    digest: entry.digest,
    size: entry.size,
    platform: { os: "linux", architecture: entry.annotations["org.opencontainers.image.ref.name"] },
  }));
  const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
  const hex = createHash("sha256").update(index).digest("hex");
  writeFileSync(join(layout, "blobs", "sha256", hex), index);
  top.manifests = [
    {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: `sha256:${hex}`,
      size: Buffer.byteLength(index),
      annotations: { "org.opencontainers.image.ref.name": "v1" },
    },
  ];
  writeFileSync(indexPath, JSON.stringify(top));
  return `oci:${layout}:v1`;
}

/** Pushes an image made by `makeImage` to `<project>/<repository>:<tag>` with skopeo. */
export function pushImage(source: string, target: string, username: string, password: string) {
  run("skopeo", [
    "copy",
    "--all",
    "--dest-tls-verify=false",
    "--dest-creds",
    `${username}:${password}`,
    source,
    `docker://${registryHost()}/${target}`,
  ]);
}

/** Reads `<project>/<repository>:<tag>`'s manifest and config with skopeo (a pull, as the registry counts them). */
export function inspectImage(target: string, username: string, password: string) {
  return JSON.parse(
    run("skopeo", ["inspect", "--tls-verify=false", "--creds", `${username}:${password}`, `docker://${registryHost()}/${target}`]),
  );
}

/** Whether skopeo may push with these credentials (false when the registry refuses them). */
export function pushSucceeds(source: string, target: string, username: string, password: string): boolean {
  try {
    pushImage(source, target, username, password);
    return true;
  } catch {
    return false;
  }
}
